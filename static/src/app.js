// Starts GOV.UK Frontend and MoJ Frontend components once the page has loaded.
// Loaded as a module, so it only runs in browsers that GOV.UK Frontend supports.
import { initAll as initGovuk } from "./govuk-frontend.min.js";
import { initAll as initMoj } from "./moj-frontend.min.js";

initGovuk();
initMoj();
