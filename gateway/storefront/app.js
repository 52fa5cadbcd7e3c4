// The storefront: one vanilla module over the shop's public API (same origin, no build step).
// Views are rendered with DOM calls only (never innerHTML), so API data can never become markup.

const TOKEN_KEY = "shop.token";
const CART_KEY = "shop.cart";
const PAGE = 12;

// ---------- small DOM and formatting tools ----------

function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const $ = (selector, root = document) => root.querySelector(selector);
const main = () => $("#main");
// A view's content; like h(), it skips absent parts (replaceChildren would print "null").
const show = (...parts) => main().replaceChildren(
  ...parts.flat().filter((part) => part !== null && part !== undefined && part !== false));

function money({ amount, currency }) {
  const format = new Intl.NumberFormat(undefined, { style: "currency", currency });
  const digits = format.resolvedOptions().maximumFractionDigits;
  return format.format(amount / 10 ** digits);
}

function minorUnits(text, currency) {
  const digits = new Intl.NumberFormat("en", { style: "currency", currency })
    .resolvedOptions().maximumFractionDigits;
  const value = Number(String(text).replace(",", "."));
  return Number.isFinite(value) ? Math.round(value * 10 ** digits) : NaN;
}

function majorUnits({ amount, currency }) {
  const digits = new Intl.NumberFormat("en", { style: "currency", currency })
    .resolvedOptions().maximumFractionDigits;
  return (amount / 10 ** digits).toFixed(digits);
}

const when = (iso) => new Date(iso).toLocaleString();
const shortId = (id) => id.slice(0, 8);

let statusTimer;
function say(message) {
  $("#alert").textContent = "";
  $("#status").textContent = message;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => { $("#status").textContent = ""; }, 8000);
}

function warn(message) {
  $("#status").textContent = "";
  $("#alert").textContent = message;
}

// ---------- the API ----------

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  },
  get claims() {
    const token = this.token;
    if (!token) return null;
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const claims = JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
      if (claims.exp && claims.exp * 1000 < Date.now()) { this.token = null; return null; }
      return claims;
    } catch { return null; }
  },
  get isAdmin() { return this.claims?.role === "admin"; },
};

async function api(method, path, { body, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (session.token) init.headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, { title: "Network error", detail: "The shop could not be reached. Try again." });
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (response.ok) return data;
  if (response.status === 401 && session.token) {
    session.token = null;
    renderChrome();
    data.detail = "Your session has ended. Log in again.";
  }
  if (response.status === 429) {
    const wait = response.headers.get("Retry-After");
    data.detail = `Too many requests. ${wait ? `Try again in ${wait} s.` : "Try again shortly."}`;
  }
  throw new ApiError(response.status, data);
}

function problemText(error) {
  if (!(error instanceof ApiError)) return String(error);
  const { problem } = error;
  if (Array.isArray(problem.short)) {
    const lines = problem.short.map((s) => `${nameOf(s.product_id)}: ${s.available} left, ${s.requested} wanted`);
    return `${problem.title || "Out of stock"}: ${lines.join("; ")}.`;
  }
  if (Array.isArray(problem.errors) && problem.errors.length) {
    return `${problem.detail || problem.title} ${problem.errors.map((e) => `${e.field}: ${e.message}`).join("; ")}`;
  }
  return problem.detail || problem.title || `HTTP ${error.status}`;
}

// Shows a 422's field errors beside the fields of `form` (inputs named like the API fields).
function showFieldErrors(form, error) {
  for (const old of form.querySelectorAll(".field-error")) old.remove();
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  const problem = error instanceof ApiError ? error.problem : {};
  // 422: errors [{field, message}]; 409: the taken fields, with the detail as their message.
  const errors = problem.errors || (problem.fields || []).map((f) => ({ field: f, message: problem.detail }));
  for (const { field, message } of errors) {
    const input = form.elements.namedItem(field.split(".")[0]);
    if (!(input instanceof HTMLElement)) continue;
    const note = h("p", { class: "field-error", id: `${input.id}-error` }, message);
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", note.id);
    input.closest(".field").append(note);
  }
  form.querySelector("[aria-invalid]")?.focus();
}

// ---------- the cart (kept in this tab, with the last seen name and price) ----------

const cart = {
  read() { try { return JSON.parse(sessionStorage.getItem(CART_KEY)) || []; } catch { return []; } },
  write(lines) {
    sessionStorage.setItem(CART_KEY, JSON.stringify(lines));
    $("#cart-count").textContent = String(lines.reduce((n, l) => n + l.quantity, 0));
  },
  add(product, quantity) {
    const lines = this.read();
    const line = lines.find((l) => l.product_id === product.id);
    if (line) line.quantity = Math.min(100, line.quantity + quantity);
    else lines.push({ product_id: product.id, name: product.name, price: product.price, quantity });
    this.write(lines);
  },
};

const names = new Map();
const nameOf = (id) => names.get(id) || cart.read().find((l) => l.product_id === id)?.name || shortId(id);

// ---------- views ----------

function heading(text) {
  return h("h1", { tabindex: "-1" }, text);
}

function field(label, input, hint) {
  input.id ||= `f-${Math.random().toString(36).slice(2, 9)}`;
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input,
    hint ? h("p", { class: "hint" }, hint) : null);
}

function pager(load) {
  // A "Load more" button that follows next_cursor; `load(cursor)` returns the page.
  let cursor = null;
  const button = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const more = async () => {
    button.disabled = true;
    try {
      const page = await load(cursor);
      cursor = page.next_cursor;
      button.hidden = !cursor;
    } catch (error) {
      warn(problemText(error));
    } finally {
      button.disabled = false;
    }
  };
  button.addEventListener("click", more);
  return { button, more };
}

function productCard(product) {
  names.set(product.id, product.name);
  const quantity = h("input", { type: "number", min: "1", max: "100", value: "1", inputmode: "numeric", class: "qty" });
  const soldOut = product.stock <= 0;
  const add = h("button", {
    type: "button",
    disabled: soldOut,
    "aria-label": `Add ${product.name} to cart`,
    onclick: () => {
      const n = Math.max(1, Math.min(100, Number(quantity.value) || 1));
      cart.add(product, n);
      say(`Added ${n} × ${product.name} to the cart.`);
    },
  }, soldOut ? "Sold out" : "Add to cart");
  return h("li", { class: "card" },
    h("h2", {}, product.name),
    h("p", { class: "muted" },
      h("a", { href: `#/?category=${encodeURIComponent(product.category)}`, "aria-label": `More in ${product.category}` }, product.category),
      " · ", product.sku),
    h("p", {}, product.description),
    h("p", { class: "price" }, money(product.price)),
    h("p", { class: "muted" }, soldOut ? "Out of stock" : `${product.stock} in stock`),
    h("div", { class: "row" }, field(["Quantity", h("span", { class: "sr-only" }, ` of ${product.name}`)], quantity), add));
}

async function catalogView(params) {
  const q = params.get("q") || "";
  const category = params.get("category") || "";
  const search = h("input", { type: "search", name: "q", value: q, autocomplete: "off" });
  const form = h("form", { role: "search", class: "row", onsubmit: (event) => {
    event.preventDefault();
    const query = search.value.trim();
    location.hash = query ? `#/?q=${encodeURIComponent(query)}` : "#/";
  } }, field("Search products", search), h("button", { type: "submit" }, "Search"));
  const list = h("ul", { class: "grid", "aria-label": "Products" });
  const summary = h("p", { class: "muted" });
  const { button, more } = pager(async (cursor) => {
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (q) query.set("q", q);
    if (category) query.set("category", category);
    if (cursor) query.set("cursor", cursor);
    const page = await api("GET", `/products?${query}`);
    list.append(...page.items.map(productCard));
    summary.textContent = list.children.length
      ? `${list.children.length} product${list.children.length === 1 ? "" : "s"} shown${q ? ` for “${q}”` : ""}${category ? ` in ${category}` : ""}.`
      : `No products${q ? ` match “${q}”` : " yet"}.`;
    return page;
  });
  const title = q ? `Search: ${q}` : category ? `Category: ${category}` : "Catalog";
  const all = category ? h("p", {}, h("a", { href: "#/" }, "All products")) : null;
  show(heading(title), form, all, summary, list, button);
  await more();
}

function cartView() {
  const lines = cart.read();
  const body = h("div");
  show(heading("Cart"), body);
  if (!lines.length) {
    body.append(h("p", {}, "Your cart is empty. ", h("a", { href: "#/" }, "Browse the catalog"), "."));
    return;
  }
  const table = h("table", {},
    h("caption", { class: "sr-only" }, "Items in your cart"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Product"), h("th", { scope: "col" }, "Price"),
      h("th", { scope: "col" }, "Quantity"), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
    h("tbody", {}, lines.map((line) => {
      const qty = h("input", { type: "number", min: "1", max: "100", value: String(line.quantity), class: "qty",
        "aria-label": `Quantity of ${line.name}`,
        onchange: () => {
          const all = cart.read();
          const found = all.find((l) => l.product_id === line.product_id);
          if (found) found.quantity = Math.max(1, Math.min(100, Number(qty.value) || 1));
          cart.write(all);
          cartView();
        } });
      const remove = h("button", { type: "button", class: "secondary", "aria-label": `Remove ${line.name}`,
        onclick: () => {
          cart.write(cart.read().filter((l) => l.product_id !== line.product_id));
          say(`Removed ${line.name}.`);
          cartView();
          $("h1", main())?.focus();
        } }, "Remove");
      return h("tr", {}, h("th", { scope: "row" }, line.name), h("td", { "data-label": "Price" }, money(line.price)), h("td", {}, qty), h("td", {}, remove));
    })));
  const totals = {};
  for (const line of lines) totals[line.price.currency] = (totals[line.price.currency] || 0) + line.price.amount * line.quantity;
  const total = Object.entries(totals).map(([currency, amount]) => money({ amount, currency })).join(" + ");
  if (!session.claims) {
    body.append(table, h("p", { class: "total" }, `Total: ${total}`),
      h("p", {}, h("a", { href: "#/account" }, "Log in or sign up"), " to place your order."));
    return;
  }
  const place = h("button", { type: "button", id: "place-order", onclick: () => checkout(place) }, "Place order");
  body.append(table, h("p", { class: "total" }, `Total: ${total}`), place);
}

// One checkout attempt = one Idempotency-Key for one cart content: a double click, a retry after
// a lost response or a second tab sends the same key, so the shop places the order at most once.
let attempt = null;
let placing = false;

async function checkout(button) {
  if (placing) return;
  const items = cart.read().map(({ product_id, quantity }) => ({ product_id, quantity }));
  const body = JSON.stringify({ items });
  if (!attempt || attempt.body !== body) attempt = { key: crypto.randomUUID(), body };
  placing = true;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = "Placing order…";
  try {
    const order = await api("POST", "/orders", { body, headers: { "Idempotency-Key": attempt.key } });
    attempt = null;
    cart.write([]);
    location.hash = "#/orders";
    say(`Order ${shortId(order.id)} placed: ${money(order.total)}.`);
  } catch (error) {
    if (error.status >= 400 && error.status < 500 && error.status !== 429) attempt = null;
    warn(problemText(error));
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = "Place order";
  } finally {
    placing = false;
  }
}

function orderItem(order) {
  const status = h("span", { class: `tag ${order.status}` }, order.status);
  const cancel = h("button", { type: "button", class: "secondary", "aria-label": `Cancel order ${shortId(order.id)}`,
    hidden: order.status !== "confirmed",
    onclick: async () => {
      cancel.disabled = true;
      try {
        const updated = await api("POST", `/orders/${encodeURIComponent(order.id)}/cancel`);
        status.textContent = updated.status;
        status.className = `tag ${updated.status}`;
        cancel.hidden = true;
        say(`Order ${shortId(order.id)} cancelled.`);
      } catch (error) {
        warn(problemText(error));
        cancel.disabled = false;
      }
    } }, "Cancel order");
  return h("li", { class: "card order", "data-order-id": order.id },
    h("h2", {}, `Order ${shortId(order.id)} `, status),
    h("p", { class: "muted" }, h("time", { datetime: order.created }, when(order.created))),
    h("ul", {}, order.items.map((i) => h("li", {}, `${i.quantity} × ${i.name} at ${money(i.unit_price)}`))),
    h("p", { class: "price" }, "Total ", money(order.total)),
    cancel);
}

async function ordersView() {
  const list = h("ul", { class: "stack", "aria-label": "Your orders" });
  const empty = h("p", { hidden: true }, "No orders yet.");
  const { button, more } = pager(async (cursor) => {
    const page = await api("GET", `/orders?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    list.append(...page.items.map(orderItem));
    empty.hidden = list.children.length > 0;
    return page;
  });
  show(heading("Your orders"), empty, list, button);
  await more();
}

async function inboxView() {
  const list = h("ul", { class: "stack", "aria-label": "Notifications" });
  const empty = h("p", { hidden: true }, "No notifications yet.");
  const refresh = h("button", { type: "button", class: "secondary" }, "Refresh");
  const moreSlot = h("div");
  let pagesLoaded = 0;
  const reload = () => {
    const pages = pager(async (cursor) => {
      const page = await api("GET", `/notifications?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      const items = page.items.map((n) => h("li", { class: "card" },
        h("h2", {}, n.subject),
        h("p", { class: "muted" }, h("time", { datetime: n.created }, when(n.created)), " · ", n.channels.join(", ")),
        h("p", { class: "body" }, n.body)));
      if (cursor) list.append(...items);
      else list.replaceChildren(...items);
      pagesLoaded = cursor ? pagesLoaded + 1 : 1;
      empty.hidden = list.children.length > 0;
      return page;
    });
    moreSlot.replaceChildren(pages.button);
    return pages.more();
  };
  refresh.addEventListener("click", async () => { await reload(); say("Inbox refreshed."); });
  show(heading("Inbox"), h("div", { class: "row" }, refresh), empty, list, moreSlot);
  await reload();
  // Notifications arrive a moment after their event: refresh the first page while the inbox is
  // open, unless the reader has paged further or is working inside the list.
  every(5000, () => {
    if (pagesLoaded === 1 && !list.contains(document.activeElement) && !moreSlot.contains(document.activeElement)) reload();
  });
}

function accountView() {
  if (session.claims) {
    show(heading("Account"), h("p", {}, "You are logged in. ", h("a", { href: "#/" }, "Shop on"), "."));
    return;
  }
  const loginName = h("input", { name: "username", autocomplete: "username", required: true });
  const loginPass = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const login = h("form", { "aria-labelledby": "login-title", onsubmit: async (event) => {
    event.preventDefault();
    await logIn(login, loginName.value.trim(), loginPass.value);
  } }, h("h2", { id: "login-title" }, "Log in"), field("Username", loginName), field("Password", loginPass),
  h("button", { type: "submit" }, "Log in"));

  const name = h("input", { name: "username", autocomplete: "username", required: true, minLength: 3, maxLength: 32,
    pattern: "[a-z0-9_.\\-]{3,32}", id: "signup-username" });
  const email = h("input", { name: "email", type: "email", autocomplete: "email", required: true, id: "signup-email" });
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password", required: true,
    minLength: 12, id: "signup-password" });
  const signup = h("form", { "aria-labelledby": "signup-title", onsubmit: async (event) => {
    event.preventDefault();
    const submit = signup.querySelector("button");
    submit.disabled = true;
    try {
      await api("POST", "/users", { body: { username: name.value.trim(), email: email.value.trim(), password: password.value } });
      say("Account created.");
      await logIn(signup, name.value.trim(), password.value);
    } catch (error) {
      showFieldErrors(signup, error);
      warn(problemText(error));
    } finally {
      submit.disabled = false;
    }
  } }, h("h2", { id: "signup-title" }, "Sign up"),
  field("Username", name, "3–32 characters: lower-case letters, digits, _ . -"),
  field("E-mail", email), field("Password", password, "At least 12 characters."),
  h("button", { type: "submit" }, "Sign up"));
  show(heading("Log in or sign up"), h("div", { class: "split" }, login, signup));
}

async function logIn(form, username, password) {
  try {
    const token = await api("POST", "/auth/token", { body: { username, password } });
    session.token = token.access_token;
    renderChrome();
    say(`Logged in as ${username}.`);
    location.hash = cart.read().length ? "#/cart" : "#/";
  } catch (error) {
    showFieldErrors(form, error);
    warn(problemText(error));
  }
}

// ---------- admin ----------

function productForm(onSaved, product = null) {
  const inputs = {
    sku: h("input", { name: "sku", required: true, value: product?.sku || "" }),
    name: h("input", { name: "name", required: true, value: product?.name || "" }),
    description: h("textarea", { name: "description", rows: "2" }, product?.description || ""),
    category: h("input", { name: "category", required: true, value: product?.category || "" }),
    price: h("input", { name: "price", required: true, inputmode: "decimal", value: product ? majorUnits(product.price) : "" }),
    currency: h("input", { name: "currency", required: true, maxLength: 3, value: product?.price.currency || "EUR" }),
    stock: h("input", { name: "stock", type: "number", min: "0", required: true, value: String(product?.stock ?? 0) }),
  };
  const form = h("form", { class: "panel", "aria-labelledby": "product-form-title", onsubmit: async (event) => {
    event.preventDefault();
    const currency = inputs.currency.value.trim().toUpperCase();
    const body = {
      sku: inputs.sku.value.trim(), name: inputs.name.value.trim(), description: inputs.description.value.trim(),
      category: inputs.category.value.trim(), price: { amount: minorUnits(inputs.price.value, currency), currency },
      stock: Number(inputs.stock.value),
    };
    try {
      const saved = product
        ? await api("PATCH", `/products/${encodeURIComponent(product.id)}`, { body })
        : await api("POST", "/products", { body });
      say(`${product ? "Saved" : "Created"} ${saved.name}.`);
      onSaved();
    } catch (error) {
      showFieldErrors(form, error);
      warn(problemText(error));
    }
  } },
  h("h2", { id: "product-form-title" }, product ? `Edit ${product.name}` : "New product"),
  h("div", { class: "fields" }, field("SKU", inputs.sku), field("Name", inputs.name), field("Category", inputs.category),
    field("Price", inputs.price, "e.g. 19.99"), field("Currency", inputs.currency), field("Stock", inputs.stock)),
  field("Description", inputs.description),
  h("div", { class: "row" }, h("button", { type: "submit" }, product ? "Save product" : "Create product"),
    product ? h("button", { type: "button", class: "secondary", onclick: () => onSaved() }, "Cancel edit") : null));
  return form;
}

function registryTable(page) {
  const now = Date.now() / 1000;
  const rows = [...page.instances].sort((a, b) => a.service.localeCompare(b.service) || a.instance_id.localeCompare(b.instance_id));
  return h("table", {},
    h("caption", {}, `Registry: ${rows.length} instance${rows.length === 1 ? "" : "s"}${page.stale ? " (stale view)" : ""}`),
    h("thead", {}, h("tr", {}, ["Service", "Instance", "Address", "Health", "Last seen", "Breaker"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((i) => h("tr", {},
      h("th", { scope: "row" }, i.service),
      h("td", { "data-label": "Instance" }, h("code", {}, i.instance_id)),
      h("td", { "data-label": "Address" }, i.address),
      h("td", { "data-label": "Health" }, h("span", { class: `tag ${i.healthy ? "healthy" : "unhealthy"}` }, i.healthy ? "healthy" : "unhealthy")),
      h("td", { "data-label": "Last seen" }, `${Math.max(0, Math.round(now - i.last_seen))} s ago`),
      h("td", { "data-label": "Breaker" }, i.breaker
        ? h("span", { class: `tag breaker-${i.breaker.state}` }, i.breaker.state,
          i.breaker.state === "closed" ? "" : ` (${i.breaker.consecutive_failures} failures, retry in ${i.breaker.retry_after} s)`)
        : "—")))));
}

async function adminView() {
  if (!session.isAdmin) {
    show(heading("Admin"), h("p", {}, "This page is for administrators. ", h("a", { href: "#/account" }, "Log in"), " with an admin account."));
    return;
  }
  const formSlot = h("div");
  const products = h("tbody");
  const registry = h("div", { "aria-live": "off" });
  const showForm = (product = null) => {
    formSlot.replaceChildren(productForm(() => { showForm(); reload(); }, product));
    if (product) formSlot.querySelector("input")?.focus();
  };
  const row = (p) => h("tr", {},
    h("th", { scope: "row" }, p.name), h("td", { "data-label": "SKU" }, p.sku), h("td", { "data-label": "Price" }, money(p.price)),
    h("td", { "data-label": "Stock" }, String(p.stock)),
    h("td", { class: "row" },
      h("button", { type: "button", class: "secondary", "aria-label": `Edit ${p.name}`, onclick: () => showForm(p) }, "Edit"),
      h("button", { type: "button", class: "danger", "aria-label": `Delete ${p.name}`, onclick: async (event) => {
        const button = event.currentTarget;
        if (!button.dataset.armed) { // a second press confirms: no product is deleted by a slip
          button.dataset.armed = "1";
          button.textContent = "Confirm delete";
          button.setAttribute("aria-label", `Confirm delete ${p.name}`);
          say(`Press “Confirm delete” to delete ${p.name}.`);
          return;
        }
        try {
          await api("DELETE", `/products/${encodeURIComponent(p.id)}`);
          say(`Deleted ${p.name}.`);
          reload();
        } catch (error) { warn(problemText(error)); }
      } }, "Delete")));
  let pages;
  const reload = () => {
    products.replaceChildren();
    pages = pager(async (cursor) => {
      const page = await api("GET", `/products?limit=25${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      products.append(...page.items.map(row));
      return page;
    });
    moreSlot.replaceChildren(pages.button);
    return pages.more();
  };
  const moreSlot = h("div");
  const refreshRegistry = async () => {
    try {
      registry.replaceChildren(registryTable(await api("GET", "/registry")));
    } catch (error) {
      registry.replaceChildren(h("p", { class: "error" }, `Registry unavailable: ${problemText(error)}`));
    }
  };
  show(heading("Admin"),
    h("section", { "aria-labelledby": "registry-title" }, h("h2", { id: "registry-title" }, "Live registry"),
      h("p", { class: "muted" }, "Instances, health and circuit breakers as the gateway sees them; refreshed every 2 s."), registry),
    h("section", { "aria-labelledby": "products-title" }, h("h2", { id: "products-title" }, "Products"), formSlot,
      h("table", {}, h("caption", { class: "sr-only" }, "Products"),
        h("thead", {}, h("tr", {}, ["Name", "SKU", "Price", "Stock", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
        products), moreSlot));
  showForm();
  await Promise.all([reload(), refreshRegistry()]);
  every(2000, refreshRegistry);
}

// ---------- routing ----------

let timers = [];
function every(ms, task) { timers.push(setInterval(task, ms)); }

const routes = { "": catalogView, cart: cartView, orders: ordersView, inbox: inboxView, account: accountView, admin: adminView };
const needsLogin = new Set(["orders", "inbox"]);

function renderChrome() {
  const claims = session.claims;
  for (const node of document.querySelectorAll("[data-when]")) {
    const want = node.dataset.when;
    node.hidden = want === "guest" ? !!claims : want === "user" ? !claims : claims?.role !== "admin";
  }
  $("#whoami").textContent = claims ? `(${claims.role})` : "";
  cart.write(cart.read());
}

async function route() {
  for (const timer of timers) clearInterval(timer);
  timers = [];
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const name = path in routes ? path : "";
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === (name || "catalog")) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (needsLogin.has(name) && !session.claims) {
    location.hash = "#/account";
    return;
  }
  try {
    await routes[name](new URLSearchParams(query));
  } catch (error) {
    warn(problemText(error));
  }
  document.title = `${$("h1", main())?.textContent || "Shop"} · Shop`;
  $("h1", main())?.focus();
}

$("#logout").addEventListener("click", () => {
  session.token = null;
  attempt = null;
  renderChrome();
  say("Logged out.");
  location.hash = "#/";
});
$(".skip").addEventListener("click", (event) => {
  event.preventDefault(); // the hash belongs to the router
  main().focus();
});
window.addEventListener("hashchange", route);
renderChrome();
route();
