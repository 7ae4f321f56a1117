import { PageHeader } from "../components/PageHeader";

// Not built yet: the page is being written.
export default function Dataset() {
  return <PageHeader title="Dataset" />;
}
