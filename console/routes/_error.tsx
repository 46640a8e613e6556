/**
 * What a page shows when its data could not be loaded: "not found" for an unknown page or object,
 * otherwise the API's error, so the reader knows it is not their doing.
 *
 * @module
 */
import { Alert } from "../components/Alert.tsx";
import { PageHeader } from "../components/PageHeader.tsx";
import { definePage } from "../lib/page.ts";
import { describeError } from "../lib/problem.ts";

interface ErrorData {
  status: number;
  error?: unknown;
}

const errorPage = definePage<ErrorData>({
  title: (t, d) => d.status === 404 ? t("error.notFoundTitle") : t("error.title"),
  status: (d) => d.status,
  render(d, { t }) {
    return (
      <>
        <PageHeader title={d.status === 404 ? t("error.notFoundTitle") : t("error.title")} />
        <Alert kind="error">{d.error ? describeError(t, d.error) : t("error.notFoundText")}</Alert>
        <p>
          <a href="/">{t("error.backHome")}</a>
        </p>
      </>
    );
  },
});
export default errorPage;

/** For a URL no route matches. */
export const notFoundPage = definePage<ErrorData>({
  ...errorPage,
  load: () => Promise.resolve({ status: 404 }),
});
