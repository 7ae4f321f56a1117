import { Link, useLocation } from "react-router";
import { ErrorMessage } from "../components/ErrorMessage";

export default function NotFound() {
  const location = useLocation();
  return (
    <>
      <ErrorMessage error={new Error(`There is no page at ${location.pathname}.`)} what="unknown page" />
      <p>
        <Link to="/">Back to the projects</Link>
      </p>
    </>
  );
}
