/**
 * The form that creates a queue or topic.
 *
 * @module
 */
import { Island } from "../../components/Island.tsx";
import { PageHeader } from "../../components/PageHeader.tsx";
import CreateDestinationForm from "../../islands/CreateDestinationForm.tsx";
import { definePage, titled } from "../../lib/page.ts";
import type { DestinationKind } from "../../lib/types.ts";

export default definePage({
  nav: "destinations",
  title: titled("create.title"),
  render(_, { t, url }) {
    const kind: DestinationKind = url.searchParams.get("kind") === "topic" ? "topic" : "queue";
    return (
      <>
        <nav aria-label={t("a11y.breadcrumb")} class="breadcrumb">
          <a href="/destinations">{t("nav.destinations")}</a>
        </nav>
        <PageHeader title={t("create.title")} />
        <div class="card narrow">
          <Island component={CreateDestinationForm} props={{ kind }} />
        </div>
      </>
    );
  },
});
