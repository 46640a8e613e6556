/**
 * Reading and validating `broker.json` and `plugin.json`, and option validation against each plugin's
 * JSON Schema (Ajv). Every error names the plugin and the field.
 *
 * @module
 */
import AjvModule from "ajv";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BrokerManifest, JsonSchema, Plugin, PluginManifest } from "./api.ts";
import { BrokerError } from "./errors.ts";

// deno-lint-ignore no-explicit-any
const Ajv = ((AjvModule as any).default ?? AjvModule) as new (opts: Record<string, unknown>) => AjvInstance;
interface AjvError {
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}
interface AjvValidate {
  (data: unknown): boolean;
  errors?: AjvError[] | null;
}
interface AjvInstance {
  compile(schema: JsonSchema): AjvValidate;
}

const ajv = new Ajv({ useDefaults: true, allErrors: true, strict: false });

/** Where built-in plugins live. */
export const BUILTIN_DIR: string = fileURLToPath(new URL("../plugins/", import.meta.url));

/** What an instance id (`as`) may be: it names services, log lines and store keys. */
export const INSTANCE_ID = /^[a-z0-9][a-z0-9._-]*$/;

const BROKER_SCHEMA: JsonSchema = {
  type: "object",
  required: ["plugins"],
  additionalProperties: false,
  properties: {
    $schema: { type: "string" },
    node: {
      type: "object",
      additionalProperties: false,
      properties: { id: { type: "string", minLength: 1 }, dataDir: { type: "string", minLength: 1 } },
    },
    limits: {
      type: "object",
      additionalProperties: false,
      properties: {
        maxMessageSize: { type: "integer", minimum: 1 },
        maxDestinationLength: { type: "integer", minimum: 1 },
        maxDestinationLevels: { type: "integer", minimum: 1 },
        defaultPrefetch: { type: "integer", minimum: 1 },
        autoCreate: { type: "boolean" },
        expirySweepMs: { type: "integer", minimum: 10 },
        pluginTimeoutMs: { type: "integer", minimum: 1 },
        maxSessions: { type: "integer", minimum: 1 },
      },
    },
    plugins: {
      type: "array",
      items: {
        type: "object",
        required: ["use"],
        additionalProperties: false,
        properties: {
          use: { type: "string", minLength: 1 },
          as: { type: "string", pattern: INSTANCE_ID.source },
          enabled: { type: "boolean" },
          options: { type: "object" },
        },
      },
    },
  },
};

const PLUGIN_SCHEMA: JsonSchema = {
  type: "object",
  required: ["name", "version", "description", "entry", "broker"],
  properties: {
    name: { type: "string", pattern: "^[a-z0-9][a-z0-9-]*$" },
    version: { type: "string", pattern: "^\\d+\\.\\d+\\.\\d+" },
    description: { type: "string" },
    entry: { type: "string", minLength: 1 },
    broker: { type: "string", minLength: 1 },
    provides: { type: "array", items: { type: "string" } },
    requires: { type: "array", items: { type: "string", pattern: "^[^*]+$" } },
    // A trailing `*` names a family of services (`"bridge:*"`); only `after` may, as its providers are optional.
    after: { type: "array", items: { type: "string", pattern: "^[^*]+\\*?$" } },
    options: { type: "object" },
    reload: { enum: ["options", "restart"] },
    runtime: { type: "boolean" },
  },
};

const validateBroker = ajv.compile(BROKER_SCHEMA);
const validatePlugin = ajv.compile(PLUGIN_SCHEMA);

/** Renders Ajv errors as `field "x.y" must be integer`. */
function describe(errors: AjvError[] | null | undefined): string {
  return (errors ?? []).map((e) => {
    const path = e.instancePath.replace(/^\//, "").replaceAll("/", ".");
    const extra = e.params.additionalProperty ? ` ("${e.params.additionalProperty}")` : "";
    return `${path ? `field "${path}"` : "manifest"} ${e.message}${extra}`;
  }).join("; ");
}

/** Parses and validates a broker manifest object. */
export function checkBrokerManifest(m: unknown, source = "broker.json"): BrokerManifest {
  if (!validateBroker(m)) {
    throw new BrokerError("manifest_invalid", `Cannot use ${source}: ${describe(validateBroker.errors)}`);
  }
  return m as BrokerManifest;
}

/** Reads and validates broker.json. */
export async function readBrokerManifest(path: string): Promise<BrokerManifest> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new BrokerError(
      "manifest_invalid",
      `Cannot read broker manifest "${path}": ${(e as Error).message}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new BrokerError(
      "manifest_invalid",
      `Cannot parse broker manifest "${path}": ${(e as Error).message}`,
    );
  }
  return checkBrokerManifest(json, `"${path}"`);
}

/** A plugin manifest with the module it loads. */
export interface ResolvedPlugin {
  readonly manifest: PluginManifest;
  readonly load: () => Promise<Plugin<Record<string, unknown>>>;
  readonly source: string;
}

/**
 * Finds a plugin by its `use` string: a built-in name, a path (to plugin.json or its folder) relative
 * to `baseDir`, or an `npm:` specifier whose module exports `manifest` and a default plugin.
 */
export async function resolvePlugin(use: string, baseDir: string): Promise<ResolvedPlugin> {
  if (use.startsWith("npm:")) {
    let mod: { manifest?: unknown; default?: unknown };
    try {
      mod = await import(use);
    } catch (e) {
      throw new BrokerError("plugin_not_found", `Cannot load plugin "${use}": ${(e as Error).message}`);
    }
    const manifest = checkPluginManifest(mod.manifest, use);
    return { manifest, source: use, load: () => Promise.resolve(checkPluginModule(mod, use, manifest)) };
  }
  const isPath = use.startsWith(".") || use.startsWith("/") || isAbsolute(use);
  if (!isPath && !/^[a-z0-9][a-z0-9-]*$/.test(use)) {
    throw new BrokerError(
      "plugin_not_found",
      `Cannot find plugin "${use}": not a built-in name, a path or an npm: specifier`,
    );
  }
  let file = isPath ? resolve(baseDir, use) : join(BUILTIN_DIR, use, "plugin.json");
  try {
    if ((await Deno.stat(file)).isDirectory) file = join(file, "plugin.json");
  } catch {
    throw new BrokerError("plugin_not_found", `Cannot find plugin "${use}": no such file "${file}"`);
  }
  let json: unknown;
  try {
    json = JSON.parse(await Deno.readTextFile(file));
  } catch (e) {
    throw new BrokerError("plugin_invalid", `Cannot read plugin manifest "${file}": ${(e as Error).message}`);
  }
  const manifest = checkPluginManifest(json, file);
  const entry = resolve(dirname(file), manifest.entry);
  return {
    manifest,
    source: file,
    load: async () => {
      let mod: { default?: unknown };
      try {
        mod = await import(pathToFileURL(entry).href);
      } catch (e) {
        throw new BrokerError(
          "plugin_invalid",
          `Cannot import plugin "${manifest.name}" entry "${entry}": ${(e as Error).message}`,
        );
      }
      return checkPluginModule(mod, manifest.name, manifest);
    },
  };
}

function checkPluginManifest(json: unknown, source: string): PluginManifest {
  if (!validatePlugin(json)) {
    throw new BrokerError(
      "plugin_invalid",
      `Cannot use plugin manifest "${source}": ${describe(validatePlugin.errors)}`,
    );
  }
  return json as PluginManifest;
}

function checkPluginModule(
  mod: { default?: unknown },
  source: string,
  manifest: PluginManifest,
): Plugin<Record<string, unknown>> {
  const p = mod.default as Plugin<Record<string, unknown>> | undefined;
  if (!p || typeof p !== "object" || typeof p.setup !== "function") {
    throw new BrokerError(
      "plugin_invalid",
      `Cannot use plugin "${source}": its default export is not definePlugin({...})`,
    );
  }
  if (p.name !== manifest.name) {
    throw new BrokerError(
      "plugin_invalid",
      `Cannot use plugin "${source}": its name "${p.name}" differs from the manifest name "${manifest.name}"`,
    );
  }
  return p;
}

const optionValidators = new WeakMap<JsonSchema, AjvValidate>();

/** Validates options against the plugin's schema, filling defaults; returns the filled copy. */
export function checkOptions(
  id: string,
  schema: JsonSchema | undefined,
  options: Record<string, unknown> | undefined,
) {
  const copy = structuredClone(options ?? {});
  if (!schema) return copy;
  let v = optionValidators.get(schema);
  if (!v) {
    try {
      v = ajv.compile(schema);
    } catch (e) {
      throw new BrokerError(
        "plugin_invalid",
        `Cannot use plugin "${id}": its options schema is invalid: ${(e as Error).message}`,
      );
    }
    optionValidators.set(schema, v);
  }
  if (!v(copy)) {
    const detail = (v.errors ?? []).map((e) => {
      const path = e.instancePath.replace(/^\//, "").replaceAll("/", ".");
      const extra = e.params.additionalProperty ? ` "${e.params.additionalProperty}"` : "";
      return `option "${path || "(options)"}" ${e.message}${extra}`;
    }).join("; ");
    throw new BrokerError("plugin_options", `Cannot start plugin "${id}": ${detail}`);
  }
  return copy;
}
