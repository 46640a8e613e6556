/**
 * The HTML shell of every page: head (theme, CSRF and API meta, the catalog for islands), skip link,
 * navigation, the language switch and the main landmark.
 *
 * @module
 */
import type { ComponentChildren } from "preact";
import { Island } from "../components/Island.tsx";
import type { Catalog } from "../lib/i18n.ts";
import type { NavId, PageContext } from "../lib/page.ts";
import LanguageSwitch from "../islands/LanguageSwitch.tsx";
import LogoutButton from "../islands/LogoutButton.tsx";

const NAV: { id: NavId; href: string }[] = [
  { id: "dashboard", href: "/" },
  { id: "destinations", href: "/destinations" },
  { id: "connections", href: "/connections" },
  { id: "topology", href: "/topology" },
  { id: "bridges", href: "/bridges" },
  { id: "plugins", href: "/plugins" },
  { id: "logs", href: "/logs" },
  { id: "settings", href: "/settings" },
];

/** JSON safe inside a <script> element: no "</script>" or "<!--" can end or change it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

export function App(
  { ctx, title, nav, catalog, assets, children }: {
    ctx: PageContext;
    title: string;
    nav?: NavId;
    catalog: Catalog;
    /** URL prefix of the built islands (null when the build failed: the page still renders). */
    assets: { islands: string | null; version: string };
    children: ComponentChildren;
  },
) {
  const { t, session } = ctx;
  return (
    <html lang={ctx.lang} data-theme={ctx.prefs.theme}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>{`${title} · FerryMQ`}</title>
        <link rel="icon" href="/static/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href={`/static/styles.css?v=${assets.version}`} />
        <meta name="ferrymq-api" content={ctx.apiBase} />
        {session && <meta name="csrf-token" content={session.csrfToken} />}
        <script
          id="ferrymq-i18n"
          type="application/json"
          dangerouslySetInnerHTML={{ __html: scriptJson(catalog) }}
        />
        {assets.islands && <script type="module" src={`${assets.islands}client.js`} />}
      </head>
      <body class={session ? "with-nav" : "bare"}>
        <a class="skip-link" href="#main">{t("a11y.skip")}</a>
        {session && (
          <header class="sidebar">
            <div class="sidebar-inner">
              <a class="brand" href="/" aria-label={t("brand.home")}>
                <img src="/static/favicon.svg" alt="" width="28" height="28" />
                <span>FerryMQ</span>
              </a>
              <nav aria-label={t("nav.label")}>
                <ul>
                  {NAV.map((n) => (
                    <li key={n.id}>
                      <a href={n.href} aria-current={n.id === nav ? "page" : undefined}>{t(`nav.${n.id}`)}</a>
                    </li>
                  ))}
                </ul>
              </nav>
              <div class="sidebar-foot">
                <Island component={LanguageSwitch} props={{ lang: ctx.lang }} />
                <p class="user" title={t("user.signedInAs")}>
                  <span class="sr-only">{t("user.signedInAs")}</span>
                  {session.user.username}
                </p>
                <Island component={LogoutButton} props={{}} />
              </div>
            </div>
          </header>
        )}
        <main id="main" tabIndex={-1}>
          {!session && (
            <div class="bare-top">
              <Island component={LanguageSwitch} props={{ lang: ctx.lang }} />
            </div>
          )}
          {children}
        </main>
      </body>
    </html>
  );
}
