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
  let loading = false;
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
  function serviceRow(s) {
    return el("tr", { "data-service": s.service }, [
      el("td", {}, [el("strong", { text: s.service })]),
      el("td", { class: "mono", title: s.image || "", text: shortImage(s.image) }),
      el("td", { class: "num", text: (s.running ?? "?") + " / " + (s.desired ?? "?") }),
      el("td", { class: "num", text: s.min + " .. " + s.max }),
      el("td", {}, [s.busy_with ? badge("busy: " + s.busy_with, "busy") : el("span", { class: "muted", text: "idle" })]),
      el("td", { class: "muted", text: s.status || "" }),
    ]);
  }

  function servicesPanel(data) {
    return table([["service"], ["image"], ["running / desired", "num"], ["bounds", "num"], ["busy"], ["ECS"]],
      data.items.map(serviceRow), "No services in this environment.");
  }

  // The services card: the first page now; the following pages (GET ...?next=) appended to its
  // table as they come, while this load is the current one. data-complete once all are in.
  // A refresh (a card is on screen already) reads every page before the card replaces the old
  // one, so a long table does not shrink to its first page and grow back every 10 s.
  async function servicesCard(env) {
    const refresh = !!document.querySelector("[data-panel=services][data-complete]");
    const base = "services/" + encodeURIComponent(env.name) + "?limit=" + SERVICE_PAGE;
    const mine = generation;
    let first;
    try {
      first = await api(base);
    } catch (err) {
      if (err instanceof Unauthorized) throw err;
      return card("Services", el("p", { class: "error", text: "could not read: " + err.message }), true, "services");
    }
    const section = card("Services", servicesPanel(first), true, "services");
    const count = el("span", { class: "count", text: String(first.items.length) });
    section.querySelector("h3").append(" ", count);
    const done = () => { section.dataset.complete = "true"; };
    if (!first.next) { done(); return section; }
    count.textContent += "+";
    const rest = (async () => {
      const tbody = section.querySelector("tbody");
      let shown = first.items.length;
      let cursor = first.next;
      try {
        while (cursor && mine === generation) {
          const page = await api(base + "&next=" + encodeURIComponent(cursor));
          if (mine !== generation) return;
          const rows = document.createDocumentFragment();
          rows.append(...page.items.map(serviceRow));
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
    if (refresh) await rest;
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

  async function panel(title, path, render, wide, name) {
    try {
      return card(title, render(await api(path)), wide, name);
    } catch (err) {
      if (err instanceof Unauthorized) throw err;
      return card(title, el("p", { class: "error", text: "could not read: " + err.message }), wide, name);
    }
  }

  // A frozen environment: who froze it, why and since when, in red above its panels.
  function frozenBanner(env) {
    return el("p", { class: "frozen-banner", role: "alert" }, [
      el("strong", { text: "FROZEN" }),
      " by " + (env.frozen_by || "?") + (env.frozen_at ? " since " + when(env.frozen_at) : "") +
        ": " + (env.frozen_reason || "") +
        ". No deploys, rollbacks or scaling; alarm reactions change nothing.",
    ]);
  }

  async function environment(env) {
    const q = "?environment=" + encodeURIComponent(env.name);
    const panels = await Promise.all([
      servicesCard(env),
      panel("Deployments", "deployments" + q + "&limit=" + DEPLOYMENTS, deploymentsPanel, true, "deployments"),
      panel("Alarm reactions", "audit" + q + "&limit=" + AUDIT, reactionsPanel, true, "reactions"),
      panel("Budgets", "budgets" + q, budgetsPanel, false, "budgets"),
      panel("Certificates", "certificates" + q, certificatesPanel, false, "certificates"),
    ]);
    const head = [
      el("h2", {}, [env.name, el("span", { class: "muted",
        text: "account " + env.account + " · " + env.region + " · cluster " + env.cluster })]),
    ];
    if (env.frozen) head.push(frozenBanner(env));
    return el("section", { class: env.frozen ? "env frozen" : "env", "data-environment": env.name },
      head.concat([el("div", { class: "grid" }, panels)]));
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

  async function load() {
    if (loading) return;
    loading = true;
    generation += 1;
    clearTimeout(timer);
    const updated = document.getElementById("updated");
    try {
      const envs = await api("environments");
      const sections = await Promise.all(envs.items.map(environment));
      const root = document.getElementById("environments");
      root.replaceChildren(...(sections.length ? sections
        : [el("p", { class: "empty", text: "This token may not read any environment." })]));
      document.getElementById("signin").hidden = true;
      document.getElementById("refresh").hidden = false;
      document.getElementById("signout").hidden = false;
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
