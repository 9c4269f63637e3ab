// opsbot dashboard: reads the REST API with a bearer token; renders with textContent only.
"use strict";

(function () {
  const STORAGE_KEY = "opsbot-token";
  const REFRESH_MS = 10000;
  const DEPLOYMENTS = 15;
  const AUDIT = 100;
  const REACTIONS = 10;
  // Services per request (GET /services/{env}?limit=): the first page renders at once, the
  // rest are appended as they arrive. `/ui?page=N` asks for smaller pages (1 to 100).
  const SERVICE_PAGE = Math.min(100, Math.max(1,
    parseInt(new URLSearchParams(window.location.search).get("page"), 10) || 100));
  let timer = null;
  let loading = false;  // a load is under way
  let generation = 0;  // the current load; an older one's pages stop appending

  // ---- token: from the URL fragment (then removed from the address bar), or typed in ----
  function takeTokenFromFragment() {
    const params = new URLSearchParams(window.location.hash.slice(1));
    const token = params.get("token");
    if (token) {
      sessionStorage.setItem(STORAGE_KEY, token);
      history.replaceState(null, "", window.location.pathname + window.location.search);
    }
  }

  function token() {
    return sessionStorage.getItem(STORAGE_KEY);
  }

  // ---- DOM helpers: every piece of data goes in through textContent ----
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value == null ? "" : String(value);
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) {
      if (child != null) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function badge(text, kind) {
    return el("span", { class: "badge " + String(kind || text || "").replace(/[^a-z_]/gi, ""), text: text });
  }

  function table(headers, rows, emptyText) {
    if (!rows.length) return el("p", { class: "empty", text: emptyText });
    const head = el("tr", {}, headers.map((h) => el("th", { text: h[0], class: h[1] || "" })));
    return el("table", {}, [el("thead", {}, [head]), el("tbody", {}, rows)]);
  }

  function card(title, body, wide, name) {
    return el("section", { class: "card" + (wide ? " wide" : ""), "data-panel": name }, [
      el("h3", { text: title }),
      body,
    ]);
  }

  // ---- formatting ----
  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    const sameDay = d.toDateString() === new Date().toDateString();
    return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
  }

  // An ended deployment shows the API's duration_seconds (the one Slack and the CLI show);
  // one still running, the time so far.
  function duration(d) {
    let s = d.duration_seconds;
    const ended = typeof s === "number";
    if (!ended) {
      const from = Date.parse(d.created_at);
      if (isNaN(from)) return "";
      s = Math.max(0, Math.round((Date.now() - from) / 1000));
    }
    const text = s < 60 ? s + " s" : s < 3600 ? Math.floor(s / 60) + " min " + (s % 60) + " s"
      : Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    return ended ? text : text + " so far";
  }

  function shortImage(image) {
    if (!image) return "";
    const slash = image.lastIndexOf("/");
    const tail = slash >= 0 ? image.slice(slash + 1) : image;
    const at = tail.indexOf("@sha256:");
    return at >= 0 ? tail.slice(0, at + 20) + "…" : tail;
  }

  function money(amount, unit) {
    if (amount == null) return "?";
    return Number(amount).toFixed(2) + " " + (unit || "");
  }

  // ---- API ----
  class Unauthorized extends Error {}

  async function api(path) {
    const response = await fetch(path, {
      headers: { Authorization: "Bearer " + token(), Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
    });
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (response.status === 401) throw new Unauthorized((body && body.error && body.error.message) || "unauthorized");
    if (!response.ok) {
      const message = body && body.error ? body.error.message : "HTTP " + response.status;
      throw new Error(message);
    }
    return body;
  }

  // ---- panels ----
  // A service's changes (GET /services/{env}/{service}/changes), under its row; the rows
  // opened stay open across refreshes.
  const openChanges = new Set();

  function changeWhat(c) {
    const id = c.deployment_id && String(c.what).indexOf(c.deployment_id) < 0 ? " (" + c.deployment_id + ")" : "";
    return c.what + id;
  }

  function changesRow(env, service, columns) {
    const cell = el("td", { colspan: String(columns) }, [el("p", { class: "muted", text: "reading changes…" })]);
    const row = el("tr", { class: "changes", "data-changes": service }, [cell]);
    api("services/" + encodeURIComponent(env) + "/" + encodeURIComponent(service) + "/changes?since_minutes=60")
      .then((data) => {
        const rows = data.items.map((c) => el("tr", { "data-source": c.source }, [
          el("td", { class: "muted", title: c.at, text: when(c.at) }),
          el("td", {}, [badge(c.source, "source")]),
          el("td", { text: c.actor }),
          el("td", { title: c.detail || "", text: changeWhat(c) }),
        ]));
        const notes = (data.notes || []).map((n) => el("p", { class: "muted", text: "not included: " + n }));
        cell.replaceChildren(el("h4", { text: "Changed in the last hour" }),
          table([["when"], ["source"], ["who"], ["what"]], rows, "Nothing changed in the last hour."), ...notes);
      })
      .catch((err) => cell.replaceChildren(el("p", { class: "error", text: "could not read changes: " + err.message })));
    return row;
  }

  // A service's row, and its changes under it when they are open.
  const SERVICE_COLUMNS = 7;

  // The rows of the last render by environment/service, with the data they show: a refresh
  // keeps a row whose service did not change instead of building it again.
  let shownRows = new Map();
  let keptRows = new Map();

  function serviceRows(env, s) {
    const key = env + "/" + s.service;
    const same = JSON.stringify(s);
    const kept = shownRows.get(key);
    const row = kept && kept.same === same ? kept.row : serviceRow(env, s, key);
    keptRows.set(key, { same: same, row: row });
    return openChanges.has(key) ? [row, changesRow(env, s.service, SERVICE_COLUMNS)] : [row];
  }

  function serviceRow(env, s, key) {
    const toggle = el("button", { class: "link", "data-action": "changes", text: openChanges.has(key) ? "changes ▾" : "changes ▸" });
    const row = el("tr", { "data-service": s.service }, [
      el("td", {}, [el("strong", { text: s.service })]),
      el("td", { class: "mono", title: s.image || "", text: shortImage(s.image) }),
      el("td", { class: "num", text: (s.running ?? "?") + " / " + (s.desired ?? "?") }),
      el("td", { class: "num", text: s.min + " .. " + s.max }),
      el("td", {}, [s.busy_with ? badge("busy: " + s.busy_with, "busy") : el("span", { class: "muted", text: "idle" })]),
      el("td", { class: "muted", text: s.status || "" }),
      el("td", {}, [toggle]),
    ]);
    toggle.addEventListener("click", () => {
      const shown = row.nextElementSibling && row.nextElementSibling.classList.contains("changes") ? row.nextElementSibling : null;
      if (shown) { shown.remove(); openChanges.delete(key); toggle.textContent = "changes ▸"; return; }
      openChanges.add(key);
      toggle.textContent = "changes ▾";
      row.after(changesRow(env, s.service, SERVICE_COLUMNS));
    });
    return row;
  }

  function servicesPanel(env, data) {
    return table([["service"], ["image"], ["running / desired", "num"], ["bounds", "num"], ["busy"], ["ECS"], ["what changed"]],
      data.items.flatMap((s) => serviceRows(env, s)), "No services in this environment.");
  }

  // The services card: the first page now; the following pages (GET ...?next=) appended to its
  // table as they come, while this load is the current one. data-complete once all are in.
  // A refresh (the card is on screen already) reads every page before the card replaces the old
  // one, so a long table does not shrink to its first page and grow back every 10 s.
  async function servicesCard(env, refresh) {
    const base = "services/" + encodeURIComponent(env.name) + "?limit=" + SERVICE_PAGE;
    const mine = generation;
    const after = (cursor) => api(base + "&next=" + encodeURIComponent(cursor));
    let first;
    try {
      first = await api(base);
      while (refresh && first.next) {
        const page = await after(first.next);
        first = { items: first.items.concat(page.items), next: page.next };
      }
    } catch (err) {
      return failed("Services", err, true, "services");
    }
    const section = card("Services", servicesPanel(env.name, first), true, "services");
    const count = el("span", { class: "count", text: String(first.items.length) });
    section.querySelector("h3").append(" ", count);
    const done = () => { section.dataset.complete = "true"; };
    if (!first.next) { done(); return section; }
    count.textContent += "+";
    (async () => {
      const tbody = section.querySelector("tbody");
      let shown = first.items.length;
      let cursor = first.next;
      try {
        while (cursor && mine === generation) {
          const page = await after(cursor);
          if (mine !== generation) return;
          const rows = document.createDocumentFragment();
          rows.append(...page.items.flatMap((s) => serviceRows(env.name, s)));
          tbody.append(rows);
          shown += page.items.length;
          cursor = page.next;
          count.textContent = shown + (cursor ? "+" : "");
        }
        if (mine === generation) done();
      } catch (err) {
        count.textContent = shown + "+ (could not read the rest: " + err.message + ")";
      }
    })();
    return section;
  }

  function deploymentsPanel(data) {
    const rows = data.items.map((d) =>
      el("tr", { "data-deployment": d.id }, [
        el("td", { text: when(d.created_at) }),
        el("td", {}, [el("strong", { text: d.service })]),
        el("td", { class: "mono", title: d.image || "", text: shortImage(d.image) + (d.rollback_of ? " (rollback)" : "") }),
        el("td", {}, [badge(d.status)]),
        el("td", { class: "num", text: duration(d) }),
        el("td", { text: d.actor || "" }),
        el("td", { class: "mono muted", text: d.id }),
      ]));
    return table([["requested"], ["service"], ["image"], ["status"], ["duration", "num"], ["by"], ["id"]],
      rows, "No deployments yet.");
  }

  function reactionsPanel(data) {
    const items = data.items.filter((a) => String(a.actor).startsWith("alarm:")).slice(0, REACTIONS);
    const rows = items.map((a) => {
      const change = a.before != null && a.after != null ? a.before + " → " + a.after : "";
      return el("tr", {}, [
        el("td", { text: when(a.at) }),
        el("td", {}, [el("strong", { text: a.actor.slice("alarm:".length) })]),
        el("td", { text: a.target }),
        el("td", {}, [badge(a.result)]),
        el("td", { class: "num", text: change }),
        el("td", { class: "muted", text: a.reason || "" }),
      ]);
    });
    return table([["at"], ["alarm"], ["target"], ["result"], ["count", "num"], ["why"]],
      rows, "No alarm reactions recorded.");
  }

  function budgetsPanel(data) {
    if (!data.items.length) return el("p", { class: "empty", text: "No budgets in this account." });
    return el("div", {}, data.items.map((b) => {
      const top = Math.max(b.limit || 0, b.forecast || 0, b.actual || 0) * 1.08 || 1;
      const pct = (v) => Math.min(100, (100 * v) / top) + "%";
      const used = b.percent_used;
      const spend = el("div", { class: "spend" + (used >= 100 ? " bad" : used >= 80 ? " warn" : "") });
      spend.style.width = pct(b.actual || 0);
      const bar = el("div", { class: "bar", role: "img",
        "aria-label": b.name + ": " + money(b.actual, b.unit) + " of " + money(b.limit, b.unit) }, [spend]);
      if (b.forecast != null) {
        const f = el("div", { class: "forecast", title: "forecast " + money(b.forecast, b.unit) });
        f.style.left = pct(b.forecast);
        bar.append(f);
      }
      if (b.limit != null) {
        const l = el("div", { class: "limit", title: "limit " + money(b.limit, b.unit) });
        l.style.left = pct(b.limit);
        bar.append(l);
      }
      return el("div", { class: "budget", "data-budget": b.name }, [
        el("div", {}, [el("span", { class: "name", text: b.name }), " ",
          el("span", { class: "muted", text: (b.time_unit || "").toLowerCase() }), " ",
          used != null ? badge(used + "% used", used >= 100 ? "bad" : used >= 80 ? "warn" : "ok") : null]),
        bar,
        el("div", { class: "legend" }, [
          el("span", { text: "spend " + money(b.actual, b.unit) }),
          el("span", { text: "forecast " + money(b.forecast, b.unit) }),
          el("span", { text: "limit " + money(b.limit, b.unit) }),
        ]),
      ]);
    }));
  }

  function certificatesPanel(data) {
    const rows = data.items.map((c) => {
      const days = c.days_left;
      const kind = days == null ? "" : days < 7 ? "bad" : days < 30 ? "warn" : "ok";
      return el("tr", { "data-domain": c.domain || "" }, [
        el("td", {}, [el("strong", { text: c.domain || "?" })]),
        el("td", { text: c.listeners.length ? c.listeners.join(", ") : "not served" }),
        el("td", {}, [badge(days == null ? "?" : days + " days", kind)]),
        el("td", { text: c.not_after ? String(c.not_after).slice(0, 10) : "" }),
        el("td", { class: "muted", text: c.status || "" }),
      ]);
    });
    return table([["domain"], ["listener"], ["expires in"], ["expires"], ["status"]],
      rows, "No certificates.");
  }

  function failed(title, err, wide, name) {
    if (err instanceof Unauthorized) throw err;
    return card(title, el("p", { class: "error", text: "could not read: " + err.message }), wide, name);
  }

  async function panel(title, path, render, wide, name) {
    try {
      return card(title, render(await api(path)), wide, name);
    } catch (err) {
      return failed(title, err, wide, name);
    }
  }

  // Deployments and audit entries are read once for every environment (the routes merge the
  // newest of each environment the token may read); an environment with fewer than it shows in
  // that page, when the page is not the whole list, is read on its own as before.
  function shared(path) {
    return api(path).catch((err) => { if (err instanceof Unauthorized) throw err; return err; });
  }

  async function ownList(title, all, path, env, enough, render, wide, name) {
    try {
      const merged = await all;
      if (!(merged instanceof Error)) {
        const items = merged.items.filter((i) => i.environment === env.name);
        if (!merged.next || enough(items)) return card(title, render({ items: items }), wide, name);
      }
      return card(title, render(await api(path + (path.indexOf("?") < 0 ? "?" : "&") +
        "environment=" + encodeURIComponent(env.name))), wide, name);
    } catch (err) {
      return failed(title, err, wide, name);
    }
  }

  const alarmed = (a) => String(a.actor).startsWith("alarm:");
  const PANELS = [["Services", true, "services"], ["Deployments", true, "deployments"],
    ["Alarm reactions", true, "reactions"], ["Budgets", false, "budgets"], ["Certificates", false, "certificates"]];

  // A frozen environment: who froze it, why and since when, in red above its panels.
  function frozenBanner(env) {
    return el("p", { class: "frozen-banner", role: "alert" }, [
      el("strong", { text: "FROZEN" }),
      " by " + (env.frozen_by || "?") + (env.frozen_at ? " since " + when(env.frozen_at) : "") +
        ": " + (env.frozen_reason || "") +
        ". No deploys, rollbacks or scaling; alarm reactions change nothing.",
    ]);
  }

  // An environment's section: the one on screen (its panels stay until their new ones are in)
  // or a new one whose panels say they are being read.
  function environmentSection(env) {
    const root = document.getElementById("environments");
    let section = [...root.querySelectorAll(":scope > [data-environment]")]
      .find((s) => s.dataset.environment === env.name);
    if (!section) {
      section = el("section", { "data-environment": env.name }, [el("div", { class: "head" }), el("div", { class: "grid" },
        PANELS.map(([title, wide, name]) => card(title, el("p", { class: "muted", text: "reading…" }), wide, name)))]);
    }
    section.className = env.frozen ? "env frozen" : "env";
    const head = [el("h2", {}, [env.name, el("span", { class: "muted",
      text: "account " + env.account + " · " + env.region + " · cluster " + env.cluster })])];
    if (env.frozen) head.push(frozenBanner(env));
    section.querySelector(".head").replaceChildren(...head);
    return section;
  }

  function place(section, name) {
    return (panelCard) => {
      const old = section.querySelector(":scope > .grid > [data-panel=" + name + "]");
      if (old) old.replaceWith(panelCard);
    };
  }

  // Every environment's services first; once their first pages are in, the deployments and
  // alarm reactions of all of them, then each one's budgets and certificates (the browser sends
  // six requests at a time, in this order). Each panel goes on screen as its answer arrives.
  function environments(envs, sections) {
    const services = envs.map((env, i) => servicesCard(env, !!sections[i].querySelector("[data-panel=services][data-complete]"))
      .then(place(sections[i], "services")));
    const others = Promise.allSettled(services).then(() => token() ? Promise.all(otherPanels(envs, sections)) : null);
    return Promise.all(services.concat([others]));
  }

  function otherPanels(envs, sections) {
    const fills = [];
    const deployments = shared("deployments?limit=100");
    const audit = shared("audit?limit=" + 2 * AUDIT);
    envs.forEach((env, i) => {
      fills.push(ownList("Deployments", deployments, "deployments?limit=" + DEPLOYMENTS, env,
        (items) => items.length >= DEPLOYMENTS, (d) => deploymentsPanel({ items: d.items.slice(0, DEPLOYMENTS) }),
        true, "deployments").then(place(sections[i], "deployments")));
      fills.push(ownList("Alarm reactions", audit, "audit?limit=" + AUDIT, env,
        (items) => items.filter(alarmed).length >= REACTIONS, reactionsPanel, true, "reactions")
        .then(place(sections[i], "reactions")));
    });
    envs.forEach((env, i) => {
      const q = "?environment=" + encodeURIComponent(env.name);
      fills.push(panel("Budgets", "budgets" + q, budgetsPanel, false, "budgets").then(place(sections[i], "budgets")));
      fills.push(panel("Certificates", "certificates" + q, certificatesPanel, false, "certificates")
        .then(place(sections[i], "certificates")));
    });
    return fills;
  }

  // ---- the loop ----
  function showSignin(message) {
    clearTimeout(timer);
    document.getElementById("signin").hidden = false;
    document.getElementById("signin-error").textContent = message || "";
    document.getElementById("environments").replaceChildren();
    document.getElementById("refresh").hidden = true;
    document.getElementById("signout").hidden = true;
    document.getElementById("updated").textContent = "signed out";
  }

  // Refresh (or a new token) while a load is under way: one more load once it ends.
  let again = false;

  async function load() {
    if (loading) { again = true; return; }
    loading = true;
    generation += 1;
    clearTimeout(timer);
    const updated = document.getElementById("updated");
    try {
      const envs = await api("environments");
      const sections = envs.items.map(environmentSection);
      const root = document.getElementById("environments");
      root.replaceChildren(...(sections.length ? sections
        : [el("p", { class: "empty", text: "This token may not read any environment." })]));
      document.getElementById("signin").hidden = true;
      document.getElementById("refresh").hidden = false;
      document.getElementById("signout").hidden = false;
      keptRows = new Map();
      await environments(envs.items, sections);
      shownRows = keptRows;
      updated.textContent = "updated " + new Date().toLocaleTimeString() + " · every " + REFRESH_MS / 1000 + " s";
      document.body.dataset.loaded = String(Date.now());
      timer = setTimeout(load, REFRESH_MS);
    } catch (err) {
      if (err instanceof Unauthorized) {
        sessionStorage.removeItem(STORAGE_KEY);
        showSignin("The token was refused (" + err.message + "). Paste another one.");
      } else {
        updated.textContent = "could not refresh: " + err.message + " (retrying)";
        timer = setTimeout(load, REFRESH_MS);
      }
    } finally {
      loading = false;
      const more = again;
      again = false;
      if (more && token()) load();
    }
  }

  function start() {
    takeTokenFromFragment();
    document.getElementById("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = document.getElementById("token-input");
      let value = input.value.trim();
      const hash = value.indexOf("#token=");
      if (hash >= 0) value = new URLSearchParams(value.slice(hash + 1)).get("token") || "";  // a pasted link
      input.value = "";
      if (!value) return;
      sessionStorage.setItem(STORAGE_KEY, value);
      document.getElementById("signin").hidden = true;
      load();
    });
    document.getElementById("refresh").addEventListener("click", load);
    document.getElementById("signout").addEventListener("click", () => {
      sessionStorage.removeItem(STORAGE_KEY);
      showSignin("");
    });
    window.addEventListener("hashchange", () => { takeTokenFromFragment(); load(); });
    if (token()) load(); else showSignin("");
  }

  document.addEventListener("DOMContentLoaded", start);
})();
