// Keeps the app alive when a view throws while rendering: the view is replaced by what
// failed (message, where) and a button to draw it again; the rest of the page keeps working.
import { Component, type ErrorInfo, type ReactNode } from "react";

interface State {
  error: Error | null;
  where: string | null;
}

export class ErrorBoundary extends Component<{ name: string; children: ReactNode; resetKey?: unknown }, State> {
  state: State = { error: null, where: null };

  static getDerivedStateFromError(error: Error): Partial<State> {
    return { error };
  }

  componentDidCatch(error: Error, info: ErrorInfo): void {
    const where = (info.componentStack ?? "").trim().split("\n").slice(0, 4).join("\n");
    this.setState({ where });
    console.warn(`the ${this.props.name} failed:`, error);
  }

  componentDidUpdate(prev: { resetKey?: unknown }): void {
    if (this.state.error && prev.resetKey !== this.props.resetKey) this.setState({ error: null, where: null });
  }

  render(): ReactNode {
    const { error, where } = this.state;
    if (!error) return this.props.children;
    return (
      <div className="view-error" data-testid="view-error" role="alert">
        <b>The {this.props.name} failed:</b> {error.message || String(error)}
        {where ? <pre className="small">{where}</pre> : null}
        <button onClick={() => this.setState({ error: null, where: null })} data-testid="view-error-retry">
          Draw it again
        </button>
      </div>
    );
  }
}
