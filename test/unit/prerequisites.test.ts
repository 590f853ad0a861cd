import test from 'ava'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { missingPrerequisites, requirePrerequisites, PrerequisiteError } from '../utils/prerequisites.js'

/** Runs fn with PATH set to a scratch directory holding executables named `commands`, and
 * a plain (not executable) file named socat. */
function withPath (commands: string[], fn: () => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'mp-prereq-'))
  const saved = process.env.PATH
  try {
    for (const c of commands) {
      writeFileSync(join(dir, c), '#!/bin/sh\n')
      chmodSync(join(dir, c), 0o755)
    }
    if (!commands.includes('socat')) writeFileSync(join(dir, 'socat'), '#!/bin/sh\n')
    process.env.PATH = dir
    fn()
  } finally {
    process.env.PATH = saved
    rmSync(dir, { recursive: true, force: true })
  }
}

test.serial('a missing command is one line naming its Debian package; found commands are not named', t => {
  withPath(['ip', 'nsenter'], () => {
    t.is(missingPrerequisites(['ip', 'ping', 'nsenter']), 'missing prerequisites: ping not found (Debian: apt-get install iputils-ping)')
  })
})

test.serial('several missing commands share one line, each package named once', t => {
  withPath([], () => {
    t.is(missingPrerequisites(['ip', 'bridge', 'socat']), 'missing prerequisites: ip, bridge, socat not found (Debian: apt-get install iproute2 socat)')
  })
})

test.serial('everything present: nothing to say, and requirePrerequisites does not throw', t => {
  withPath(['ip', 'ping', 'nsenter'], () => {
    t.is(missingPrerequisites(['ip', 'ping', 'nsenter']), undefined)
    t.notThrows(() => { requirePrerequisites(['ip', 'ping', 'nsenter']) })
  })
})

test.serial('a file that is not executable does not count; requirePrerequisites throws the line', t => {
  withPath([], () => {
    const err = t.throws(() => { requirePrerequisites(['socat']) }, { instanceOf: PrerequisiteError })
    t.is(err?.message, 'missing prerequisites: socat not found (Debian: apt-get install socat)')
  })
})

test.serial('root is checked too (these tests run as root)', t => {
  t.is(missingPrerequisites(['root']), process.getuid?.() === 0 ? undefined : 'missing prerequisites: not running as root (network namespaces need it)')
})
