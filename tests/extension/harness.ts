// A DaemonClient wired to the vscode stub, fake daemons and a fake clock.

import { DaemonClient } from '../../colab-vscode/src/daemon/client';
import type { LocateResult } from '../../colab-vscode/src/daemon/locate';
import { RestartPolicy } from '../../colab-vscode/src/daemon/restartPolicy';
import { fakeDaemons, serverStatus, type FakeConnection } from './fakeDaemon';
import { createVscodeStub } from './vscodeStub';

export const found: LocateResult = {
  ok: true,
  daemon: { path: '/opt/colab/colab', command: '/opt/colab/colab', args: [], source: 'bundled' },
  tried: ['/opt/colab/colab (bundled: found)'],
};

export interface HarnessOptions {
  locate?: () => LocateResult;
  settings?: { logLevel: string; python: string };
  configure?: (c: FakeConnection) => void;
}

export function createHarness(options: HarnessOptions = {}) {
  const vs = createVscodeStub();
  const daemons = fakeDaemons(options.configure ?? ((c) => (c.status = serverStatus())));
  let clock = 1_000_000;
  const policy = new RestartPolicy(4, 3 * 60_000, () => clock);
  const log: string[] = [];
  const counters = { logShown: 0 };
  const client = new DaemonClient(vs.api, {
    locate: options.locate ?? (() => found),
    settings: () => options.settings ?? { logLevel: 'Information', python: '' },
    connect: daemons.connect,
    policy,
    log: { info: (m) => log.push(`info: ${m}`), error: (m) => log.push(`error: ${m}`) },
    showLog: () => counters.logShown++,
  });
  return {
    vs,
    daemons,
    client,
    policy,
    log,
    counters,
    advance: (ms: number) => (clock += ms),
  };
}
