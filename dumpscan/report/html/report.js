// dumpscan HTML report: tables (sort, search, pages) and charts (Vega-Lite) from the
// page's embedded data. Dump text is only ever set as textContent, never parsed as HTML.
"use strict";
(function () {
  const PAGE = 50;
  const data = JSON.parse(document.getElementById("dumpscan-data").textContent);
  const NUMERIC = new Set(["int", "bytes", "float"]);
  const HEX = new Set(["address", "hex"]);
  const tables = {};

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The text of one cell: dumpscan.views.format.cell(..., "text") embedded by the page
  // where it differs from the JSON value (addresses, hex, tags, lists, booleans).
  function cellText(t, col, row) {
    const c = t.columns[col];
    if (t.text[c.name]) return t.text[c.name][row];
    const v = t.values[row][col];
    if (v === null || v === undefined) return "";
    return c.kind === "float" ? v.toFixed(1) : String(v);
  }

  function compare(t, col, a, b) {
    const kind = t.columns[col].kind;
    if (NUMERIC.has(kind)) {
      const x = t.values[a][col], y = t.values[b][col];
      if (x === null) return y === null ? 0 : 1;
      if (y === null) return -1;
      return x - y;
    }
    const x = cellText(t, col, a), y = cellText(t, col, b);
    if (HEX.has(kind)) {
      const nx = x.replace(/^0x|`/g, ""), ny = y.replace(/^0x|`/g, "");
      return nx.length - ny.length || (nx < ny ? -1 : nx > ny ? 1 : 0);
    }
    return x.localeCompare(y);
  }

  // A search: words all present (any case) in the row's text; * and ? are wildcards
  // matched against whole cells (a tag pattern such as Lea* or *Irp*); =WORD is a whole
  // cell exactly (=Leak: the tag Leak, not myfault!PoolLeak+0x24).
  function matcher(text) {
    const words = text.trim().split(/\s+/).filter(Boolean);
    return words.map(function (word) {
      if (word.length > 1 && word[0] === "=") {
        const exact = word.slice(1);
        return function (cells) { return cells.some(function (c) { return c.trim() === exact; }); };
      }
      if (/[*?]/.test(word)) {
        const re = new RegExp("^" + word.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$", "i");
        return function (cells) { return cells.some(function (c) { return re.test(c); }); };
      }
      const needle = word.toLowerCase();
      return function (cells) { return cells.some(function (c) { return c.toLowerCase().includes(needle); }); };
    });
  }

  function setupTable(holder) {
    const id = holder.dataset.table;
    const t = data.tables[id];
    const state = { t: t, order: t.values.map(function (_, i) { return i; }), rows: null, page: 0,
                    sortCol: null, sortDir: 1, search: "", flash: null };
    const controls = el("div", { class: "controls" });
    const box = el("input", { type: "search", placeholder: "Search: tag, driver, symbol, address (Le*, =Leak)",
                              "aria-label": "Search " + t.title, "data-role": "search" });
    const count = el("span", { class: "count", "data-role": "count" });
    const pager = el("span", { class: "pager" });
    const prev = el("button", { type: "button", "data-role": "prev" }, "\u2039 Prev");
    const info = el("span", { "data-role": "page" });
    const next = el("button", { type: "button", "data-role": "next" }, "Next \u203a");
    pager.append(prev, info, next);
    controls.append(box, count, pager);
    const table = el("table", { class: "data", "data-table": id });
    const thead = el("thead"), tbody = el("tbody"), tr = el("tr");
    const stacks = Array.isArray(t.stacks);
    if (stacks) tr.append(el("th", { title: "Stack" }, ""));
    t.columns.forEach(function (c, i) {
      const th = el("th", { title: c.help, "data-col": c.name, "aria-sort": "none" }, c.heading);
      th.addEventListener("click", function () { sortBy(i, th); });
      tr.append(th);
    });
    thead.append(tr);
    table.append(thead, tbody);
    if (t.shown < t.total) {
      holder.append(el("p", { class: "note", "data-role": "cut" }, "Listing " + t.shown + " of " + t.total +
        " rows (the first in the view's order); every row: " + t.more + "."));
    }
    holder.append(controls, table);

    function sortBy(col, th) {
      state.sortDir = state.sortCol === col ? -state.sortDir : (NUMERIC.has(t.columns[col].kind) ? -1 : 1);
      state.sortCol = col;
      table.querySelectorAll("th").forEach(function (h) { h.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", state.sortDir > 0 ? "ascending" : "descending");
      state.order.sort(function (a, b) { return state.sortDir * compare(t, col, a, b) || a - b; });
      state.page = 0;
      filter();
    }

    function filter() {
      const tests = matcher(state.search);
      state.rows = tests.length === 0 ? state.order : state.order.filter(function (r) {
        const cells = [];  // each cell's text, and each item of a list (tags, owners)
        t.columns.forEach(function (c, i) {
          cells.push(cellText(t, i, r));
          if (c.kind === "list" && Array.isArray(t.values[r][i])) t.values[r][i].forEach(function (v) { cells.push(String(v)); });
        });
        return tests.every(function (test) { return test(cells); });
      });
      render();
    }

    function render() {
      const pages = Math.max(1, Math.ceil(state.rows.length / PAGE));
      state.page = Math.min(state.page, pages - 1);
      tbody.textContent = "";
      for (const r of state.rows.slice(state.page * PAGE, (state.page + 1) * PAGE)) {
        const row = el("tr", { "data-row": String(r) });
        if (state.flash !== null && r === state.flash) row.className = "flash";
        if (stacks) {
          const frames = (t.stacks[r] || []).map(function (i) { return t.frames[i]; });
          const cellNode = el("td", { class: "expander", title: frames.length ? "Show the stack" : "" },
                              frames.length ? "\u25b8" : "");
          if (frames.length) cellNode.addEventListener("click", function () { toggleStack(row, cellNode, frames); });
          row.append(cellNode);
        }
        t.columns.forEach(function (c, i) {
          const cls = NUMERIC.has(c.kind) ? "num" : (HEX.has(c.kind) || c.kind === "tag" ? "mono" : "");
          row.append(el("td", cls ? { class: cls } : {}, cellText(t, i, r)));
        });
        tbody.append(row);
      }
      count.textContent = state.rows.length + " of " + t.values.length + " rows";
      info.textContent = " page " + (state.page + 1) + " of " + pages + " ";
      prev.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
    }

    function toggleStack(row, cellNode, frames) {
      const open = row.nextSibling && row.nextSibling.classList && row.nextSibling.classList.contains("stack-row");
      if (open) { row.nextSibling.remove(); cellNode.textContent = "\u25b8"; return; }
      const detail = el("tr", { class: "stack-row" });
      const td = el("td", { colspan: String(row.children.length) });
      td.append(el("pre", { class: "stack" }, frames.join("\n")));
      detail.append(td);
      row.after(detail);
      cellNode.textContent = "\u25be";
    }

    box.addEventListener("input", function () { state.search = box.value; state.page = 0; state.flash = null; filter(); });
    prev.addEventListener("click", function () { state.page -= 1; render(); });
    next.addEventListener("click", function () { state.page += 1; render(); });
    filter();
    tables[id] = {
      show: function (search, rowIndex) {
        box.value = search; state.search = search; state.flash = rowIndex === undefined ? null : rowIndex;
        state.page = 0; filter();
        if (state.flash !== null) {
          const at = state.rows.indexOf(state.flash);
          if (at >= 0) { state.page = Math.floor(at / PAGE); render(); }
        }
        holder.scrollIntoView({ block: "start" });
      }
    };
  }

  // Suspect evidence: a link names the table and the search (and row) that support it.
  document.addEventListener("click", function (event) {
    const link = event.target.closest("a.goto");
    if (!link || !tables[link.dataset.table]) return;
    event.preventDefault();
    const row = link.dataset.row === undefined ? undefined : Number(link.dataset.row);
    tables[link.dataset.table].show(link.dataset.search || "", row);
  });

  document.querySelectorAll("div.table[data-table]").forEach(setupTable);
  const charts = Array.from(document.querySelectorAll("div.vega[data-chart]")).map(function (holder) {
    return vegaEmbed(holder, data.charts[holder.dataset.chart], { renderer: "svg", actions: false });
  });
  Promise.all(charts).then(function () { document.body.dataset.ready = "yes"; },
                           function (error) { console.error("chart: " + error); });
})();
