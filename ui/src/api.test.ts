// The HTTP helpers against the contract of docs/api.md: the bearer token on every request,
// JSON bodies, and the error envelope {"error": {"code", "message", "where", "details"}}.
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { API, ApiError, api, captureToken, eventStream, token } from "./api";

class MemoryStorage {
  items = new Map<string, string>();
  getItem(k: string) {
    return this.items.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.items.set(k, v);
  }
}

let storage: MemoryStorage;
let fetchMock: ReturnType<typeof vi.fn>;

function respond(status: number, body: unknown, type = "application/json", statusText = "") {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  fetchMock.mockResolvedValueOnce(new Response(status === 204 ? null : text, { status, statusText, headers: { "content-type": type } }));
}
function lastCall(): { url: string; init: RequestInit; headers: Headers } {
  const [url, init] = fetchMock.mock.calls.at(-1) as [string, RequestInit];
  return { url, init, headers: new Headers(init.headers) };
}

beforeEach(() => {
  storage = new MemoryStorage();
  fetchMock = vi.fn();
  vi.stubGlobal("sessionStorage", storage);
  vi.stubGlobal("fetch", fetchMock);
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe("api()", () => {
  test("sends the token as a bearer and reads JSON", async () => {
    storage.setItem("storm_token", "s3cret");
    respond(200, { id: "wf1" });
    await expect(api("/workflows/wf1")).resolves.toEqual({ id: "wf1" });
    const { url, headers, init } = lastCall();
    expect(url).toBe(`${API}/workflows/wf1`);
    expect(url).toBe("/api/v1/workflows/wf1");
    expect(headers.get("Authorization")).toBe("Bearer s3cret");
    expect(init.credentials).toBe("same-origin");
  });

  test("no token, no Authorization header", async () => {
    respond(200, []);
    await api("/workflows");
    expect(lastCall().headers.has("Authorization")).toBe(false);
  });

  test("json: serialised body with its content type; other headers and the method kept", async () => {
    respond(200, { ok: true });
    await api("/workflows/wf1/actions", { method: "POST", json: { action: "hold", selection: { names: ["a"] } }, headers: { "Idempotency-Key": "k1" } });
    const { init, headers } = lastCall();
    expect(init.method).toBe("POST");
    expect(init.body).toBe('{"action":"hold","selection":{"names":["a"]}}');
    expect(headers.get("Content-Type")).toBe("application/json");
    expect(headers.get("Idempotency-Key")).toBe("k1");
  });

  test("a raw body is sent as it is", async () => {
    respond(200, { id: "d1" });
    await api("/drafts/import", { method: "POST", body: "name: x\n", headers: { "Content-Type": "application/yaml" } });
    expect(lastCall().init.body).toBe("name: x\n");
    expect(lastCall().headers.get("Content-Type")).toBe("application/yaml");
  });

  test("204 is undefined; text answers are text", async () => {
    respond(204, null);
    await expect(api("/drafts/d1", { method: "DELETE" })).resolves.toBeUndefined();
    respond(200, "line 1\nline 2\n", "text/plain; charset=utf-8");
    await expect(api("/workflows/wf1/nodes/a/log")).resolves.toBe("line 1\nline 2\n");
  });

  test("the error envelope becomes an ApiError with code, message, where and details", async () => {
    respond(409, { error: { code: "not-allowed", message: "cannot cancel a open node", where: "a", details: { ineligible: [{ node: "a" }] } } });
    const err = await api("/workflows/wf1/actions", { method: "POST", json: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 409, code: "not-allowed", message: "cannot cancel a open node", where: "a", details: { ineligible: [{ node: "a" }] } });
  });

  test("an envelope without where and details gives nulls", async () => {
    respond(404, { error: { code: "not-found", message: "no workflow wf9" } });
    const err = (await api("/workflows/wf9").catch((e: unknown) => e)) as ApiError;
    expect([err.status, err.code, err.where, err.details]).toEqual([404, "not-found", null, null]);
  });

  test("a failure without an envelope is an 'http' ApiError naming the path", async () => {
    respond(502, "<html>bad gateway</html>", "text/html", "Bad Gateway");
    const err = (await api("/workflows").catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect([err.status, err.code, err.message]).toEqual([502, "http", "502 Bad Gateway for /workflows"]);
    respond(500, "{not json", "application/json", "Internal Server Error");
    const err2 = (await api("/x").catch((e: unknown) => e)) as ApiError;
    expect([err2.status, err2.code]).toEqual([500, "http"]);
  });
});

describe("the token", () => {
  test("captureToken keeps ?token= and drops it from the address bar", () => {
    const replaceState = vi.fn();
    vi.stubGlobal("window", {
      location: { href: "http://h:8765/ui/workflows/wf1?view=graph&token=abc#x" },
      history: { state: { k: 1 }, replaceState },
    });
    captureToken();
    expect(token()).toBe("abc");
    expect(replaceState).toHaveBeenCalledWith({ k: 1 }, "", "/ui/workflows/wf1?view=graph#x");
  });

  test("without ?token= nothing changes", () => {
    storage.setItem("storm_token", "old");
    const replaceState = vi.fn();
    vi.stubGlobal("window", { location: { href: "http://h/ui/" }, history: { state: null, replaceState } });
    captureToken();
    expect(token()).toBe("old");
    expect(replaceState).not.toHaveBeenCalled();
  });

  test("the event stream passes after= and the token in the query (EventSource sends no headers)", () => {
    const urls: string[] = [];
    vi.stubGlobal(
      "EventSource",
      class {
        constructor(url: string) {
          urls.push(url);
        }
      },
    );
    eventStream("wf1", 42);
    storage.setItem("storm_token", "a b&c");
    eventStream("wf1", 0);
    expect(urls[0]).toBe("/api/v1/workflows/wf1/events/stream?after=42");
    const q = new URL(urls[1], "http://h").searchParams;
    expect([q.get("after"), q.get("token")]).toEqual(["0", "a b&c"]);
  });
});

describe("conditional GETs", () => {
  test("a GET sends back the ETag it got and a 304 answers from memory", async () => {
    fetchMock.mockResolvedValueOnce(
      new Response(JSON.stringify({ items: [1] }), { status: 200, headers: { "content-type": "application/json", etag: '"abc"' } }),
    );
    expect(await api("/workflows?limit=5")).toEqual({ items: [1] });
    expect(lastCall().headers.get("If-None-Match")).toBeNull();
    fetchMock.mockResolvedValueOnce(new Response(null, { status: 304, headers: { etag: '"abc"' } }));
    expect(await api("/workflows?limit=5")).toEqual({ items: [1] });
    expect(lastCall().headers.get("If-None-Match")).toBe('"abc"');
  });

  test("other methods never send If-None-Match", async () => {
    fetchMock.mockResolvedValueOnce(
      new Response(JSON.stringify({ a: 1 }), { status: 200, headers: { "content-type": "application/json", etag: '"x"' } }),
    );
    await api("/workflows/w1/actions");
    respond(200, { ok: true });
    await api("/workflows/w1/actions", { method: "POST", json: {} });
    expect(lastCall().headers.get("If-None-Match")).toBeNull();
  });
});
