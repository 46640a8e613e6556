/**
 * The loaded plugins with their versions, options (secrets masked by the API) and manifests.
 *
 * @module
 */
import { EmptyState } from "../components/EmptyState.tsx";
import { PageHeader } from "../components/PageHeader.tsx";
import { definePage, titled } from "../lib/page.ts";
import type { PluginInfo } from "../lib/types.ts";

export default definePage<PluginInfo[]>({
  nav: "plugins",
  title: titled("nav.plugins"),
  load: ({ api }) => api.get<PluginInfo[]>("/plugins"),
  render(plugins, { t }) {
    return (
      <>
        <PageHeader title={t("nav.plugins")} subtitle={t("plugins.count", { count: plugins.length })} />
        {plugins.length === 0 ? <EmptyState title={t("plugins.none")} /> : (
          <ul class="plugin-list">
            {plugins.map((p) => (
              <li key={p.id} class="card">
                <div class="plugin-head">
                  <h2>{p.id}</h2>
                  <span class="muted">{p.name !== p.id ? `${p.name} ` : ""}v{p.version}</span>
                  <span class={`badge ${p.enabled ? "badge-ok" : "badge-off"}`}>
                    {p.enabled ? t("plugins.enabled") : t("plugins.disabled")}
                  </span>
                </div>
                {p.description && <p>{p.description}</p>}
                <details>
                  <summary>{t("plugins.options")}</summary>
                  <pre>{JSON.stringify(p.options ?? {}, null, 2)}</pre>
                </details>
                <details>
                  <summary>{t("plugins.manifest")}</summary>
                  <pre>{JSON.stringify(p.manifest ?? {}, null, 2)}</pre>
                </details>
              </li>
            ))}
          </ul>
        )}
      </>
    );
  },
});
