// Starts GOV.UK Frontend and MoJ Frontend components once the page has loaded, and our own
// few: a progress bar for background jobs. Loaded as a module, so it only runs in browsers
// that GOV.UK Frontend supports.
import { initAll as initGovuk } from "./govuk-frontend.min.js";
import { initAll as initMoj } from "./moj-frontend.min.js";

initGovuk();
initMoj();

// <div data-module="portal-job-progress" data-status-url="…"> polls the job's status and
// moves its <progress>; when the job ends, the page reloads to show the result.
for (const element of document.querySelectorAll('[data-module="portal-job-progress"]')) {
  const bar = element.querySelector("progress");
  const message = element.querySelector("[data-progress-message]");
  const poll = async () => {
    try {
      const response = await fetch(element.dataset.statusUrl, { headers: { Accept: "application/json" } });
      const status = await response.json();
      bar.value = status.percent ?? 0;
      bar.textContent = `${status.percent ?? 0}%`;
      if (status.message) message.textContent = status.message;
      if (status.import_status && status.import_status !== "importing") {
        window.location.reload();
        return;
      }
    } catch {
      // A missed poll is not a failure: try again shortly.
    }
    window.setTimeout(poll, 1000);
  };
  poll();
}

// <a data-module="portal-print"> prints the page (the print stylesheet leaves the case itself).
for (const link of document.querySelectorAll('[data-module="portal-print"]')) {
  link.addEventListener("click", (event) => {
    event.preventDefault();
    window.print();
  });
}

// Tables stack into rows on narrow screens (see _portal.scss): each cell is labelled with its
// column's name, and the table keeps its roles, which display: block would otherwise take away.
for (const table of document.querySelectorAll("table.govuk-table")) {
  // A column whose name is only for screen readers ("Action") labels nothing on screen.
  const headers = [...table.querySelectorAll("thead th")].map((th) => {
    const hidden = th.querySelector(".govuk-visually-hidden");
    const text = th.textContent.trim();
    return hidden && hidden.textContent.trim() === text ? "" : text;
  });
  table.setAttribute("role", "table");
  for (const part of table.querySelectorAll("thead, tbody, tfoot")) part.setAttribute("role", "rowgroup");
  for (const row of table.querySelectorAll("tr")) {
    row.setAttribute("role", "row");
    [...row.children].forEach((cell, index) => {
      if (cell.tagName === "TH") {
        cell.setAttribute("role", cell.closest("thead") ? "columnheader" : "rowheader");
      } else {
        cell.setAttribute("role", "cell");
      }
      const label = headers[index];
      if (cell.tagName === "TD" && label && !cell.hasAttribute("data-label")) cell.dataset.label = label;
    });
  }
}
