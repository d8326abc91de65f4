// Builds static/dist/: compiles our Sass (GOV.UK Frontend + MoJ Frontend + our
// own branding) and copies the vendor JavaScript and the few images we use.
// Fonts and the crown are deliberately left behind: we are not a GOV.UK service.
import { mkdirSync, copyFileSync, writeFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as sass from "sass";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "static", "dist");
const nodeModules = join(root, "node_modules");

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, "assets", "images"), { recursive: true });

const result = sass.compile(join(root, "static", "src", "app.scss"), {
  loadPaths: [root],
  style: "compressed",
  quietDeps: true,
  silenceDeprecations: ["import"],
  // GOV.UK and MoJ Frontend warn about each other's deprecated mixins; those
  // are theirs to fix. Warnings from our own Sass still show.
  logger: {
    warn(message, options) {
      const where = options.span?.url?.pathname ?? "";
      const trace = options.stack ?? "";
      if (!where.includes("node_modules") && !trace.includes("node_modules")) {
        console.warn(`Sass warning: ${message}`);
      }
    },
  },
});
writeFileSync(join(dist, "app.css"), result.css);

const copies = [
  ["govuk-frontend/dist/govuk/govuk-frontend.min.js", "govuk-frontend.min.js"],
  ["@ministryofjustice/frontend/moj/moj-frontend.min.js", "moj-frontend.min.js"],
];
for (const [from, to] of copies) {
  copyFileSync(join(nodeModules, from), join(dist, to));
}
copyFileSync(join(root, "static", "src", "app.js"), join(dist, "app.js"));
copyFileSync(join(root, "static", "src", "favicon.svg"), join(dist, "assets", "images", "favicon.svg"));

console.log(`Built front-end assets into ${dist}`);
