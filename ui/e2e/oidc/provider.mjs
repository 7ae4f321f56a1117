// A real OpenID Connect provider (the `oidc-provider` package) on loopback, for the tests of
// dockyard's single sign-on. It signs anyone in with any password (its development login and
// consent pages); the accounts named in OIDC_ACCOUNTS get their email and groups.
//
// Environment: OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI (dockyard's callback),
// OIDC_LOGOUT_URI (where to go after signing out), OIDC_ACCOUNTS_FILE (a JSON file {"alice":
// {"email": ..., "groups": [...]}}, read at each sign-in, so a test can change someone's
// groups). It listens on a free port and prints {"issuer": URL} on a line of its own.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const env = process.env;
const accounts = () => (env.OIDC_ACCOUNTS_FILE ? JSON.parse(readFileSync(env.OIDC_ACCOUNTS_FILE, 'utf8')) : {});
const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: env.OIDC_CLIENT_ID,
      client_secret: env.OIDC_CLIENT_SECRET,
      redirect_uris: [env.OIDC_REDIRECT_URI],
      post_logout_redirect_uris: [env.OIDC_LOGOUT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  async findAccount(_ctx, id) {
    const known = accounts()[id] ?? {};
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          preferred_username: id,
          name: id,
          email: known.email ?? `${id}@example.com`,
          email_verified: true,
          groups: known.groups ?? [],
        };
      },
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  cookies: { keys: ['dockyard-tests-only'] },
  pkce: { required: () => true },
});
provider.on('server_error', (_ctx, error) => console.error('provider error:', error));
server.on('request', provider.callback());
console.log(JSON.stringify({ issuer }));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
