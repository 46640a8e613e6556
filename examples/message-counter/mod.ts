/**
 * Example plugin: counts messages per destination and logs the counts every N seconds.
 *
 * @module
 */
import { definePlugin, Priority } from "../../mod.ts";

export default definePlugin<{ everySeconds: number }>({
  name: "message-counter",
  setup(ctx) {
    const counts = new Map<string, number>();
    ctx.hooks.on("publish", ({ message }) => {
      counts.set(message.destination, (counts.get(message.destination) ?? 0) + 1);
      return message;
    }, { priority: Priority.OBSERVE });
    const timer = setInterval(() => {
      if (counts.size === 0) return;
      ctx.log.info("messages per destination", Object.fromEntries(counts));
      counts.clear();
    }, ctx.options.everySeconds * 1000);
    return () => clearInterval(timer);
  },
});
