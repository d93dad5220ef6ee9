// Shows the server's work-done progress (server-created tokens) as cancellable VS Code
// notifications carrying the installer's lines; cancelling tells the server to stop.
import * as vscode from 'vscode';

export type ProgressToken = string | number;

export interface ProgressValue {
  readonly kind: 'begin' | 'report' | 'end';
  readonly title?: string;
  readonly message?: string;
  readonly percentage?: number;
  readonly cancellable?: boolean;
}

/** The part of a language client the progress display needs. */
export interface ProgressSource {
  onProgressCreated(listener: (token: ProgressToken) => void): vscode.Disposable;
  onProgress(token: ProgressToken, listener: (value: ProgressValue) => void): vscode.Disposable;
  cancelProgress(token: ProgressToken): void;
}

/** Follows one server progress token from `begin` to `end`. */
class ProgressPart {
  private done!: () => void;
  private report: ((value: { message?: string; increment?: number }) => void) | undefined;
  private last = 0;
  private readonly subscription: vscode.Disposable;
  private finished = false;

  constructor(
    private readonly source: ProgressSource,
    private readonly token: ProgressToken,
    private readonly onFinished: (part: ProgressPart) => void,
  ) {
    this.subscription = source.onProgress(token, (value) => this.handle(value));
  }

  private handle(value: ProgressValue): void {
    if (value.kind === 'begin') {
      this.begin(value);
    } else if (value.kind === 'report') {
      this.update(value);
    } else {
      this.finish();
    }
  }

  private begin(value: ProgressValue): void {
    const options: vscode.ProgressOptions = {
      location: vscode.ProgressLocation.Notification,
      title: `Env Layers: ${value.title ?? 'working'}`,
      cancellable: value.cancellable === true,
    };
    void vscode.window.withProgress(options, (progress, cancel) => {
      this.report = (v) => progress.report(v);
      cancel.onCancellationRequested(() => this.source.cancelProgress(this.token));
      this.update(value);
      return new Promise<void>((resolve) => {
        this.done = resolve;
        if (this.finished) resolve();
      });
    });
  }

  private update(value: ProgressValue): void {
    const report: { message?: string; increment?: number } = {};
    if (value.message !== undefined) report.message = value.message;
    if (value.percentage !== undefined && value.percentage > this.last) {
      report.increment = value.percentage - this.last;
      this.last = value.percentage;
    }
    this.report?.(report);
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.subscription.dispose();
    // begin may not have been seen (or its promise not started) yet.
    if (typeof this.done === 'function') this.done();
    this.onFinished(this);
  }
}

/** Owns the progress parts of one server connection. */
export class ServerProgress implements vscode.Disposable {
  private readonly parts = new Set<ProgressPart>();
  private readonly subscription: vscode.Disposable;

  constructor(source: ProgressSource) {
    this.subscription = source.onProgressCreated((token) => {
      this.parts.add(new ProgressPart(source, token, (part) => this.parts.delete(part)));
    });
  }

  get active(): number {
    return this.parts.size;
  }

  dispose(): void {
    this.subscription.dispose();
    for (const part of [...this.parts]) part.finish();
  }
}
