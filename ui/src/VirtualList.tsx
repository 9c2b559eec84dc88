// A windowed list: only the rows in view (plus a margin) are in the DOM.
import { useLayoutEffect, useRef, useState, type ReactNode } from "react";

export function VirtualList<T>(props: {
  items: readonly T[];
  rowHeight: number;
  render: (item: T, index: number) => ReactNode;
  className?: string;
  testId?: string;
}) {
  const { items, rowHeight, render } = props;
  const ref = useRef<HTMLDivElement>(null);
  const [scroll, setScroll] = useState(0);
  const [height, setHeight] = useState(600);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setHeight(el.clientHeight || 600));
    ro.observe(el);
    setHeight(el.clientHeight || 600);
    return () => ro.disconnect();
  }, []);
  const margin = 10;
  const first = Math.max(0, Math.floor(scroll / rowHeight) - margin);
  const last = Math.min(items.length, Math.ceil((scroll + height) / rowHeight) + margin);
  const rows: ReactNode[] = [];
  for (let i = first; i < last; i++)
    rows.push(
      <div key={i} className="vrow" style={{ top: i * rowHeight, height: rowHeight }}>
        {render(items[i], i)}
      </div>,
    );
  return (
    <div
      ref={ref}
      className={"vlist " + (props.className ?? "")}
      data-testid={props.testId}
      onScroll={(e) => setScroll((e.target as HTMLDivElement).scrollTop)}
    >
      <div style={{ height: items.length * rowHeight, position: "relative" }}>{rows}</div>
    </div>
  );
}
