/**
 * One destination: its live figures, the pending messages (browsed without consuming them), a form to send
 * one, a queue's limits, and purge / delete.
 *
 * @module
 */
import { Island } from "../../../components/Island.tsx";
import { PageHeader } from "../../../components/PageHeader.tsx";
import DestinationActions from "../../../islands/DestinationActions.tsx";
import DestinationStats from "../../../islands/DestinationStats.tsx";
import MessageBrowser, { PAGE_SIZE } from "../../../islands/MessageBrowser.tsx";
import QueueLimitsForm from "../../../islands/QueueLimitsForm.tsx";
import SendMessageForm from "../../../islands/SendMessageForm.tsx";
import { definePage } from "../../../lib/page.ts";
import { type Destination, destinationPath, type MessagePage } from "../../../lib/types.ts";

export default definePage<{ dest: Destination; page: MessagePage }>({
  nav: "destinations",
  title: (_t, { dest }) => dest.name,
  async load({ api, params }) {
    const path = destinationPath(params.kind, params.name);
    const [dest, page] = await Promise.all([
      api.get<Destination>(path),
      api.get<MessagePage>(`${path}/messages?offset=0&limit=${PAGE_SIZE}`),
    ]);
    return { dest, page };
  },
  render({ dest, page }, { t }) {
    return (
      <>
        <nav aria-label={t("a11y.breadcrumb")} class="breadcrumb">
          <a href="/destinations">{t("nav.destinations")}</a>
        </nav>
        <PageHeader
          title={dest.name}
          subtitle={<span class={`badge badge-${dest.kind}`}>{t(`kind.${dest.kind}`)}</span>}
        >
          <Island component={DestinationActions} props={{ kind: dest.kind, name: dest.name }} />
        </PageHeader>
        <Island component={DestinationStats} props={{ initial: dest }} />
        <div class="grid-detail">
          <section class="card" aria-labelledby="browse-title">
            <h2 id="browse-title">{t("browse.title")}</h2>
            <Island component={MessageBrowser} props={{ kind: dest.kind, name: dest.name, initial: page }} />
          </section>
          <section class="card" aria-labelledby="send-title">
            <h2 id="send-title">{t("send.title")}</h2>
            <Island component={SendMessageForm} props={{ kind: dest.kind, name: dest.name }} />
          </section>
          {dest.kind === "queue" && (
            <section class="card" aria-labelledby="limits-title">
              <h2 id="limits-title">{t("limits.title")}</h2>
              <Island
                component={QueueLimitsForm}
                props={{ name: dest.name, maxRedeliveries: dest.maxRedeliveries, maxLength: dest.maxLength }}
              />
            </section>
          )}
        </div>
      </>
    );
  },
});
