import { PageHeader } from "../components/PageHeader";

// Not built yet: the page is being written.
export default function Compare() {
  return <PageHeader title="Compare" />;
}
