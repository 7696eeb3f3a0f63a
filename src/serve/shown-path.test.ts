import assert from 'node:assert/strict';
import path from 'node:path';
import { it } from 'node:test';
import { relativeInside, shownPath, withoutWorkingDir } from './shown-path.ts';

const cwd = path.resolve('/srv/genlab');

it('shows server paths relative to the working directory, else by name, never absolute', () => {
  assert.equal(shownPath(path.join(cwd, 'runs', 'align', 'run-1'), cwd), path.join('runs', 'align', 'run-1'));
  assert.equal(shownPath(path.join('runs', 'align', 'run-1'), cwd), path.join('runs', 'align', 'run-1'));
  assert.equal(shownPath('/home/alice/models/rm', cwd), 'rm');
  assert.equal(shownPath(path.join(cwd, '..', 'genlab-other', 'rm'), cwd), 'rm');
  assert.equal(relativeInside(cwd, cwd), '.');
  assert.equal(relativeInside('/elsewhere', cwd), null);
  assert.equal(relativeInside(path.join(cwd, '..data', 'x'), cwd), path.join('..data', 'x'), 'a name starting with two dots is inside');
  assert.equal(withoutWorkingDir(`EACCES: permission denied, mkdir '${path.join(cwd, 'runs', 'align', 'run-2')}'`, cwd), `EACCES: permission denied, mkdir '${path.join('runs', 'align', 'run-2')}'`);
});
