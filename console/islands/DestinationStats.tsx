/**
 * A destination's figures, kept current: from the live feed's destination list every 2 s, and at once
 * after a send or purge on the same page.
 *
 * @module
 */
/// <reference lib="dom" />
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { StatCard } from "../components/StatCard.tsx";
import { api } from "../lib/api.ts";
import { onMessagesChanged } from "../lib/events.ts";
import { formatNumber } from "../lib/format.ts";
import { useT } from "../lib/i18n.ts";
import { useLiveEvents } from "../lib/live.ts";
import { type Destination, destinationPath } from "../lib/types.ts";

export default function DestinationStats({ initial }: { initial: Destination }) {
  const t = useT();
  const dest = useSignal(initial);
  useLiveEvents({
    destinations(data) {
      const d = (data as Destination[]).find((x) => x.kind === initial.kind && x.name === initial.name);
      if (d) dest.value = d;
    },
  });
  useEffect(
    () =>
      onMessagesChanged(() => {
        api<Destination>(destinationPath(initial.kind, initial.name)).then((d) => dest.value = d, () => {});
      }),
    [],
  );

  const d = dest.value;
  return (
    <dl class="cards">
      <StatCard
        label={t("destinations.pending")}
        value={formatNumber(d.pending)}
        hint={d.maxLength != null
          ? t("destinations.maxLengthValue", { n: formatNumber(d.maxLength) })
          : undefined}
        testId="dest-pending"
      />
      <StatCard label={t("destinations.inflight")} value={formatNumber(d.inflight)} />
      <StatCard label={t("destinations.consumers")} value={formatNumber(d.consumers)} />
      <StatCard label={t("destinations.producers")} value={formatNumber(d.producers)} />
      <StatCard label={t("destinations.enqueued")} value={formatNumber(d.enqueued)} />
      <StatCard label={t("destinations.dequeued")} value={formatNumber(d.dequeued)} />
      <StatCard
        label={t("destinations.durable")}
        value={d.durable ? t("common.yes") : t("common.no")}
        hint={d.maxRedeliveries != null
          ? t("destinations.maxRedeliveriesValue", { n: d.maxRedeliveries })
          : undefined}
      />
      {d.boundTo.length > 0 && <StatCard label={t("destinations.boundTo")} value={d.boundTo.join(", ")} />}
    </dl>
  );
}
