// README.md / README_EN.md / Dockerfile under config/higress/ must not drift from spec.yaml.
import { describe, expect, it } from "vitest";
import {
  compileSpec,
  configTableRows,
  explain,
  loadSpec,
  loadWasmPlugin,
  loadYaml,
  propertyPaths,
  readText,
  yamlBlocks,
} from "./helpers";

const spec = loadSpec();
const configSchema = spec.spec.configSchema.openAPIV3Schema;
const { config: validateConfig, rule: validateRule } = compileSpec(spec);
const schemaProps = propertyPaths(configSchema);

const readmes = [
  {
    file: "README.md",
    columns: ["名称", "数据类型", "填写要求", "默认值", "描述"],
    required: "必填",
    optional: "选填",
    phase: "插件执行阶段：",
    priority: "插件执行优先级：",
  },
  {
    file: "README_EN.md",
    columns: ["Name", "Type", "Requirement", "Default", "Description"],
    required: "Required",
    optional: "Optional",
    phase: "Plugin execution phase:",
    priority: "Plugin execution priority:",
  },
];

const squash = (s: string) => s.replace(/[`\s]/g, "");

for (const r of readmes) {
  describe(`config/higress/${r.file}`, () => {
    const md = readText("config", "higress", r.file);
    const rows = configTableRows(md, r.columns);
    const byName = new Map(rows.map((row) => [row.name, row]));

    it("has the Higress README sections", () => {
      const headings = r.file === "README.md"
        ? ["## 功能说明", "## 运行属性", "## 配置说明", "## 配置示例", "## 与 Higress AI 路由配合", "## 构建并推送 OCI 镜像"]
        : ["## Description", "## Runtime properties", "## Configuration", "## Configuration examples", "## Pairing with Higress AI routes", "## Build and push the OCI image"];
      for (const h of headings) expect(md.split("\n"), h).toContain(h);
    });

    it("states the phase and priority of spec.yaml", () => {
      expect(md).toContain(`${r.phase}`);
      expect(md).toMatch(new RegExp(`${r.phase}.*${spec.spec.phase}`));
      expect(md).toMatch(new RegExp(`${r.priority}\\s*\`${spec.spec.priority}\``));
    });

    it("names every top-level property of the schema in a configuration table", () => {
      const top = Object.keys(configSchema.properties);
      expect(top.filter((p) => !byName.has(p))).toEqual([]);
    });

    it("names every nested property (models[].…, routes.<alias>.…) and nothing the schema lacks", () => {
      const paths = schemaProps.map((p) => p.path);
      expect(paths.filter((p) => !byName.has(p))).toEqual([]);
      expect(rows.map((row) => row.name).filter((n) => !paths.includes(n))).toEqual([]);
      expect(new Set(rows.map((row) => row.name)).size).toBe(rows.length);
    });

    it("marks exactly the schema's required properties as required", () => {
      const wrong = schemaProps
        .filter((p) => byName.get(p.path)?.requirement !== (p.required ? r.required : r.optional))
        .map((p) => `${p.path}: ${byName.get(p.path)?.requirement}`);
      expect(wrong).toEqual([]);
    });

    it("shows the schema's defaults", () => {
      const wrong = schemaProps
        .filter((p) => p.schema.default !== undefined)
        .filter((p) => squash(byName.get(p.path)?.default ?? "") !== JSON.stringify(p.schema.default))
        .map((p) => `${p.path}: ${byName.get(p.path)?.default} vs ${JSON.stringify(p.schema.default)}`);
      expect(wrong).toEqual([]);
    });

    it("lists every strategy", () => {
      const strategy = byName.get("routes.<alias>.strategy")!;
      for (const s of configSchema.properties.routes.additionalProperties.properties.strategy.enum) {
        expect(strategy.description).toContain(`\`${s}\``);
      }
    });

    it("its YAML examples are valid configurations or rule configurations", () => {
      const blocks = yamlBlocks(md);
      let checked = 0;
      for (const b of blocks) {
        if (b?.models) {
          expect(validateConfig(b), explain(validateConfig.errors)).toBe(true);
          checked++;
        }
        for (const rule of b?.matchRules ?? []) {
          expect(validateRule(rule.config), explain(validateRule.errors)).toBe(true);
          checked++;
        }
      }
      expect(checked).toBeGreaterThanOrEqual(3);
    });

    it("shows the same EnvoyFilter as envoyfilter-cluster-header.yaml", () => {
      const shown = yamlBlocks(md).filter((b) => b?.kind === "EnvoyFilter");
      expect(shown).toHaveLength(1);
      expect(shown[0]).toEqual(loadYaml("config", "higress", "envoyfilter-cluster-header.yaml"));
    });

    it("documents the image build and push with the tag wasmplugin.yaml pulls", () => {
      const image = loadWasmPlugin().spec.url.replace(/^oci:\/\//, "");
      const tag = image.slice(image.lastIndexOf("/") + 1);
      expect(md).toContain(`docker build -f config/higress/Dockerfile -t <registry>/${tag} .`);
      expect(md).toContain(`docker push <registry>/${tag}`);
      expect(md).toContain("x-higress-llm-model");
      expect(md).toContain("#1618");
    });
  });
}

describe("config/higress/Dockerfile", () => {
  it("packages build/higress.wasm as plugin.wasm in an empty image", () => {
    const lines = readText("config", "higress", "Dockerfile")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    expect(lines).toEqual(["FROM scratch", "COPY build/higress.wasm ./plugin.wasm"]);
  });

  it("its dockerignore keeps build/higress.wasm in the context", () => {
    const lines = readText("config", "higress", "Dockerfile.dockerignore").split("\n").map((l) => l.trim());
    expect(lines).toContain("!build/higress.wasm");
  });
});
