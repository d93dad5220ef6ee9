// Workspace trust: installing runs build backends, so sync, compose and kernel installation
// need a trusted workspace; reading reports does not.
import * as vscode from 'vscode';

export const MANAGE_TRUST = 'Manage Workspace Trust';

/** Server commands that run installers (and so build backends). */
export const INSTALLING_COMMANDS: Readonly<Record<string, string>> = {
  'envlayers.sync': 'Syncing the workspace environment',
  'envlayers.compose': 'Composing layers',
  'envlayers.installKernel': 'Installing a Jupyter kernel',
};

export function untrustedMessage(action: string): string {
  return (
    `Env Layers: ${action} is disabled in Restricted Mode, because installing packages runs ` +
    'their build backends (arbitrary code from the project). Trust this workspace to enable it; ' +
    'showing the environment report still works.'
  );
}

export class TrustGate {
  get trusted(): boolean {
    return vscode.workspace.isTrusted;
  }

  /** Resolves true when `action` may run; otherwise explains why not and resolves false. */
  async require(action: string): Promise<boolean> {
    if (vscode.workspace.isTrusted) {
      return true;
    }
    const choice = await vscode.window.showWarningMessage(untrustedMessage(action), MANAGE_TRUST);
    if (choice === MANAGE_TRUST) {
      await vscode.commands.executeCommand('workbench.trust.manage');
    }
    return false;
  }

  /** For server commands run by VS Code directly (e.g. a quick fix): gate the installing ones. */
  async allowServerCommand(command: string): Promise<boolean> {
    const action = INSTALLING_COMMANDS[command];
    return action === undefined ? true : this.require(action);
  }

  onDidGrant(listener: () => void): vscode.Disposable {
    return vscode.workspace.onDidGrantWorkspaceTrust(listener);
  }
}
