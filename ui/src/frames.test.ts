// Frame specs as the server reads them. Every expectation below is what
// stormflow.spec.frames (parse_frames, chunks, frames_string; fileseq 3.4) answers, so the
// Composer's frame and chunk counts and chunk names are the ones `storm` expands to.
import { describe, expect, test } from "vitest";
import { chunkNames, framesString, parseFrames } from "./frames";

describe("parseFrames: the frames of a spec, in authored order", () => {
  test.each<[string, number[]]>([
    ["1-10", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]],
    ["5", [5]],
    ["0", [0]],
    ["-3", [-3]],
    ["1-10x2", [1, 3, 5, 7, 9]],
    ["1-10x3", [1, 4, 7, 10]],
    ["1-100x25", [1, 26, 51, 76]],
    ["1,3,5-7", [1, 3, 5, 6, 7]],
    ["1-3,7-8", [1, 2, 3, 7, 8]],
    ["3,1,2", [3, 1, 2]],
    ["-5-5", [-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5]],
    ["-5--1", [-5, -4, -3, -2, -1]],
    ["1--3", [1, 0, -1, -2, -3]],
    ["10-1", [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]],
    ["10-1x3", [10, 7, 4, 1]],
    ["10-1x-3", [10, 7, 4, 1]],
    ["5-5x3", [5]],
  ])("%s", (spec, frames) => {
    expect(parseFrames(spec)).toEqual(frames);
  });

  test("y: the frames that x leaves out", () => {
    expect(parseFrames("1-10y3")).toEqual([2, 3, 5, 6, 8, 9]);
    expect(parseFrames("10-1y3")).toEqual([9, 8, 6, 5, 3, 2]);
    expect(parseFrames("1-10y1")).toBeNull(); // nothing left
  });

  test(": staggers x3, then x2, then x1, each frame once", () => {
    expect(parseFrames("1-10:3")).toEqual([1, 4, 7, 10, 3, 5, 9, 2, 6, 8]);
    expect(parseFrames("1-5:1")).toEqual([1, 2, 3, 4, 5]);
  });

  test("repeated frames are dropped (overlapping pieces render once)", () => {
    expect(parseFrames("1-10,5-15")).toEqual([...Array(15).keys()].map((i) => i + 1));
    expect(parseFrames("1-3,3")).toEqual([1, 2, 3]);
    expect(parseFrames("5,1-10x2")).toEqual([5, 1, 3, 7, 9]);
    expect(parseFrames("1-10x2,1-10")).toEqual([1, 3, 5, 7, 9, 2, 4, 6, 8, 10]);
  });

  test("whitespace is ignored; empty pieces are skipped", () => {
    expect(parseFrames(" 1-3 ")).toEqual([1, 2, 3]);
    expect(parseFrames("1 - 3")).toEqual([1, 2, 3]);
    expect(parseFrames("1-2, 5")).toEqual([1, 2, 5]);
    expect(parseFrames("1-3,")).toEqual([1, 2, 3]);
    expect(parseFrames(",1")).toEqual([1]);
    expect(parseFrames("1,,2")).toEqual([1, 2]);
  });

  test("a whole number is a single frame", () => {
    expect(parseFrames(7)).toEqual([7]);
    expect(parseFrames(-2)).toEqual([-2]);
    expect(parseFrames(1.5)).toBeNull();
  });

  test.each([
    "",
    "  ",
    ",",
    "a",
    "1-",
    "-",
    "1-2x",
    "x2",
    "5x2", // a step needs a range
    "1-10x0",
    "1-10x-2", // a negative step on an ascending range
    "1-10z2",
    "1-10X2",
    "+3",
    "1.5",
    "1-10x0.5",
    "1-10#",
    "@",
    "1-2-3",
  ])("%j is refused", (spec) => {
    expect(parseFrames(spec)).toBeNull();
  });

  test.each([null, undefined, true, [1, 2], { from: 1 }])("%j is not a frame spec", (spec) => {
    expect(parseFrames(spec)).toBeNull();
  });

  test("huge ranges are not listed in the browser", () => {
    expect(parseFrames("1-1000002")).toBeNull();
    expect(parseFrames("1-1000002y2")).toBeNull();
    expect(parseFrames("1-1000001")).toHaveLength(1_000_001);
    expect(parseFrames("1-2000000x4")).toHaveLength(500_000);
    expect(parseFrames("1-1000000")).toHaveLength(1_000_000);
  });
});

describe("framesString: a chunk's frames as fileseq writes them", () => {
  test.each<[number[], string]>([
    [[], ""],
    [[5], "5"],
    [[1, 2], "1-2"],
    [[1, 2, 3, 4], "1-4"],
    [[4, 3, 2], "4-2"],
    [[-5, -4, -3], "-5--3"],
    [[-2, -1, 0], "-2-0"],
    [[1, 3], "1,3"],
    [[1, 3, 5], "1-5x2"],
    [[10, 7, 4], "10-4x3"],
    [[7, 9], "7,9"],
    [[1, 3, 5, 6, 7], "1-5x2,6-7"],
    [[3, 1, 2], "3,1-2"],
    [[10, 3, 5], "10,3,5"],
    [[2, 3, 5], "2-3,5"],
    [[6, 8, 9], "6,8-9"],
    [[1, 2, 3, 7, 8], "1-3,7-8"],
  ])("%j -> %s", (frames, text) => {
    expect(framesString(frames)).toBe(text);
  });
});

describe("chunkNames: the nodes a frame-ranged node expands to", () => {
  test("consecutive chunks of chunk_size frames, the last one shorter", () => {
    expect(chunkNames("render", "1-10", 3)).toEqual(["render.1-3", "render.4-6", "render.7-9", "render.10"]);
    expect(chunkNames("render", "1-8", 2)).toEqual(["render.1-2", "render.3-4", "render.5-6", "render.7-8"]);
  });

  test("stepped ranges keep their step in the chunk name", () => {
    expect(chunkNames("render", "1-10x2", 3)).toEqual(["render.1-5x2", "render.7,9"]);
    expect(chunkNames("render", "1-10x3", 3)).toEqual(["render.1-7x3", "render.10"]);
    expect(chunkNames("r", "1,3,5-7", 3)).toEqual(["r.1-5x2", "r.6-7"]);
    expect(chunkNames("r", "1-10y3", 3)).toEqual(["r.2-3,5", "r.6,8-9"]);
    expect(chunkNames("r", "1-10:3", 3)).toEqual(["r.1-7x3", "r.10,3,5", "r.9,2,6", "r.8"]);
  });

  test("descending and negative frames", () => {
    expect(chunkNames("r", "10-1", 3)).toEqual(["r.10-8", "r.7-5", "r.4-2", "r.1"]);
    expect(chunkNames("r", "-5-5", 3)).toEqual(["r.-5--3", "r.-2-0", "r.1-3", "r.4-5"]);
  });

  test("one frame per chunk without a usable chunk size", () => {
    const one = ["r.1", "r.3", "r.5"];
    for (const size of [undefined, null, 0, -2, "3", 1]) expect(chunkNames("r", "1-5x2", size)).toEqual(one);
    expect(chunkNames("r", "1-5x2", 2.7)).toEqual(["r.1,3", "r.5"]);
  });

  test("a chunk count per frame count: overlapping pieces count once", () => {
    expect(chunkNames("r", "1-10,5-15", 3)).toHaveLength(5);
    expect(chunkNames("r", "1-100", 10)).toHaveLength(10);
    expect(chunkNames("r", "1-101", 10)).toHaveLength(11);
  });

  test("a single frame, as a number or a string", () => {
    expect(chunkNames("r", 5, 4)).toEqual(["r.5"]);
    expect(chunkNames("r", "5", 4)).toEqual(["r.5"]);
  });

  test("no chunks for an unreadable spec", () => {
    expect(chunkNames("r", "1-", 2)).toBeNull();
    expect(chunkNames("r", null, 2)).toBeNull();
  });
});
