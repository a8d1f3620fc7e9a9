// The Getting Started walkthrough (contributes.walkthroughs): every step has its media in
// the extension, completes on the command (or view) it offers, and offers only commands
// the extension declares — with the ids agreed across the areas.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './vsix';

interface Step {
  id: string;
  title: string;
  description: string;
  media: { markdown?: string; image?: string; altText?: string };
  completionEvents: string[];
}
const extensionDir = path.join(repoRoot, 'colab-vscode');
const manifest = JSON.parse(fs.readFileSync(path.join(extensionDir, 'package.json'), 'utf8')) as {
  contributes: { commands: { command: string }[]; walkthroughs?: { id: string; title: string; steps: Step[] }[]; views?: Record<string, { id: string }[]> };
};
const walkthrough = manifest.contributes.walkthroughs?.find((w) => w.id === 'gettingStarted');
const linked = (s: Step) => [...s.description.matchAll(/\(command:([\w.]+)\)/g)].map((m) => m[1]);

test('the walkthrough has the five steps: runtime, GPU, GitHub, Drive, training', () => {
  assert.ok(walkthrough, 'no gettingStarted walkthrough in contributes.walkthroughs');
  assert.deepEqual(walkthrough.steps.map((s) => s.id), ['connectRuntime', 'checkGpu', 'openFromGitHub', 'browseDrive', 'startTraining']);
  const offered = walkthrough.steps.map((s) => linked(s));
  assert.deepEqual(offered, [
    ['colab.connectLocalRuntime', 'colab.connectRemoteRuntime'],
    ['colab.checkGpu'],
    ['colab.openFromGitHub'],
    ['colab.driveUseFolder'],
    ['colab.tryTrainingExample'],
  ]);
});

test('each step completes when the user runs the command it offers', () => {
  for (const step of walkthrough!.steps) {
    for (const command of linked(step)) {
      assert.ok(step.completionEvents.includes(`onCommand:${command}`), `${step.id} offers ${command} but does not complete on it`);
    }
    for (const event of step.completionEvents) assert.match(event, /^(onCommand:colab\.\w+|onView:colab\.\w+)$/, `${step.id}: ${event}`);
  }
});

test('each step\'s media is a markdown or SVG file inside media/walkthrough/, and the images it shows exist', () => {
  for (const step of walkthrough!.steps) {
    const file = step.media.markdown ?? step.media.image;
    assert.ok(file, `${step.id} has no media`);
    assert.match(file, /^media\/walkthrough\/[\w-]+\.(md|svg)$/, `${step.id}: ${file}`);
    const full = path.join(extensionDir, file);
    assert.ok(fs.existsSync(full), `${step.id}: ${file} is missing`);
    if (file.endsWith('.md')) {
      const text = fs.readFileSync(full, 'utf8');
      for (const m of text.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)) {
        assert.ok(fs.existsSync(path.join(path.dirname(full), m[1])), `${file} shows ${m[1]}, which is missing`);
      }
    }
  }
});

test('every command the walkthrough offers or completes on is declared by the extension', () => {
  const declared = new Set(manifest.contributes.commands.map((c) => c.command));
  const views = new Set(Object.values(manifest.contributes.views ?? {}).flat().map((v) => v.id));
  const missing: string[] = [];
  for (const step of walkthrough!.steps) {
    for (const event of step.completionEvents) {
      const [kind, id] = event.split(':');
      if (kind === 'onCommand' && !declared.has(id)) missing.push(`${step.id}: command ${id}`);
      if (kind === 'onView' && !views.has(id)) missing.push(`${step.id}: view ${id}`);
    }
  }
  assert.deepEqual(missing, []);
});
