import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RestartPolicy } from '../../colab-vscode/src/daemon/restartPolicy';

function policyAt(start = 0) {
  let now = start;
  const policy = new RestartPolicy(4, 3 * 60_000, () => now);
  return { policy, advance: (ms: number) => (now += ms) };
}

test('four crashes within three minutes are each restarted and the fifth is not', () => {
  const { policy, advance } = policyAt();
  const decisions = [];
  for (let i = 0; i < 5; i++) {
    decisions.push(policy.recordCrash());
    advance(30_000);
  }
  assert.deepEqual(
    decisions.map((d) => d.restart),
    [true, true, true, true, false],
  );
  assert.equal(decisions[4].crashes, 5);
});

test('crashes older than three minutes are forgotten, so a slow trickle keeps being restarted', () => {
  const { policy, advance } = policyAt();
  for (let i = 0; i < 20; i++) {
    assert.equal(policy.recordCrash().restart, true, `crash ${i + 1} one minute after the last`);
    advance(61_000);
  }
});

test('the fifth crash just inside three minutes of the first is not restarted, just outside it is', () => {
  const inside = policyAt();
  for (let i = 0; i < 4; i++) inside.policy.recordCrash();
  inside.advance(3 * 60_000 - 1);
  assert.equal(inside.policy.recordCrash().restart, false);

  const outside = policyAt();
  for (let i = 0; i < 4; i++) outside.policy.recordCrash();
  outside.advance(3 * 60_000);
  assert.deepEqual(outside.policy.recordCrash(), { restart: true, crashes: 1 });
});

test('reset forgets earlier crashes (Colab: Restart Daemon)', () => {
  const { policy } = policyAt();
  for (let i = 0; i < 5; i++) policy.recordCrash();
  policy.reset();
  assert.deepEqual(policy.recordCrash(), { restart: true, crashes: 1 });
});

test('the window reads as words for messages', () => {
  assert.equal(new RestartPolicy(4, 3 * 60_000).windowText, '3 minutes');
  assert.equal(new RestartPolicy(4, 60_000).windowText, '1 minute');
  assert.equal(new RestartPolicy(4, 90_000).windowText, '90 seconds');
});
