// What the identity pages ask the server, as React Query hooks and mutations. Every mutation
// refreshes the listings it changes.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type ApiError, type Schemas, sendJson, seg } from "../../api/client";
import { useGet } from "../../api/hooks";

export type User = Schemas["User"];
export type UserCreated = Schemas["UserCreated"];
export type Team = Schemas["Team"];
export type Grant = Schemas["Grant"];
export type Token = Schemas["Token"];
export type TokenCreated = Schemas["TokenCreated"];

/** The caller as the server sees them (the same query as the top bar's). */
export const useMe = (enabled = true) => useGet<Schemas["Me"]>("/users/me", {}, { staleTime: 60_000, enabled });
export const useUsers = (enabled = true) => useGet<User[]>("/users", {}, { enabled });
export const useTeams = () => useGet<Team[]>("/teams");
export const useGrants = (project: string) => useGet<Grant[]>(`/projects/${seg(project)}/grants`);
export const useTokens = () => useGet<Token[]>("/tokens");

type Method = "POST" | "PUT" | "PATCH" | "DELETE";

/** A mutation of `method` on the path `to(variables)` with the body `body(variables)`, after
 * which the queries whose path starts with one of `refresh` are fetched again. */
export function useSend<V, R = unknown>(method: Method, to: (v: V) => string, body: (v: V) => unknown, refresh: string[]) {
  const client = useQueryClient();
  return useMutation<R, ApiError, V>({
    mutationFn: (v) => sendJson<R>(method, to(v), body(v)),
    onSuccess: () =>
      client.invalidateQueries({
        predicate: (query) => typeof query.queryKey[0] === "string" && refresh.some((p) => (query.queryKey[0] as string).startsWith(p)),
      }),
  });
}
