/**
 * The live log tail and the per-plugin log levels.
 *
 * @module
 */
import { Island } from "../components/Island.tsx";
import { PageHeader } from "../components/PageHeader.tsx";
import LogLevels from "../islands/LogLevels.tsx";
import LogTail from "../islands/LogTail.tsx";
import { definePage, titled } from "../lib/page.ts";
import type { LogLevel, LogRecord } from "../lib/types.ts";

export default definePage<{ records: LogRecord[]; levels: Record<string, LogLevel> }>({
  nav: "logs",
  title: titled("nav.logs"),
  async load({ api }) {
    const [records, levels] = await Promise.all([
      api.get<LogRecord[]>("/logs?limit=200"),
      api.get<Record<string, LogLevel>>("/logs/levels"),
    ]);
    return { records, levels };
  },
  render({ records, levels }, { t }) {
    return (
      <>
        <PageHeader title={t("nav.logs")} />
        <div class="grid-logs">
          <section class="card" aria-labelledby="tail-title">
            <h2 id="tail-title">{t("logs.tail")}</h2>
            <Island component={LogTail} props={{ initial: records }} />
          </section>
          <section class="card" aria-labelledby="levels-title">
            <h2 id="levels-title">{t("logs.levels")}</h2>
            <Island component={LogLevels} props={{ levels }} />
          </section>
        </div>
      </>
    );
  },
});
