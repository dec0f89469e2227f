// The provider APIs a request can go to, one module each: openai.ts (OpenAI's API and every
// OpenAI-compatible one), azure_openai.ts (Azure OpenAI). A module holds what is specific to its API:
// where a request goes (the path, the query), and what the configuration must say for it. A
// provider's `api` field names its API; config/providers.ts turns it into an Api once, at configure
// time, and the request path only reads that.
//
// A layer of its own between json/ and config/: the modules work on plain bytes and strings, so the
// configuration (validation, precomputed paths) and the upstream filter (request/provider_path.ts)
// both call them. Adding an API: a member and its name here, its module, its case in
// request/provider_path.ts and in config/providers.ts; the CLI's gatewayView and generator
// (cli/lib/config.mjs, cli/lib/envoy.mjs) learn the name from cli/lib/names.mjs.
export const enum Api { OpenAI, AzureOpenAI }

// By Api, as the `api` field spells them.
export const API_NAMES: string[] = ["openai", "azure-openai"];
