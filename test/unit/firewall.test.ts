/**
 * The firewall's pure half (dataplane/firewall.ts): what rules a host needs for its
 * networks and published ports, and which nft commands bring an observed kernel there.
 * The rules themselves are exercised against a real kernel in test/netns/egress.test.ts.
 */
import test from 'ava'
import { computeFirewall, diffFirewall, COMPAT_RULES, type FirewallInput, type ObservedFirewall, type PublishedPort } from '@meshplane/agent/dataplane/firewall.js'

const BLUE = { name: 'blue', bridge: 'mpbr1', subnet: '10.240.0.0/16', gateway: '10.240.0.1', egress: true }
const RED = { name: 'red', bridge: 'mpbr2', subnet: '10.242.0.0/16', gateway: '10.242.0.1', egress: false }

function input (over: Partial<FirewallInput> = {}): FirewallInput {
  return { networks: [BLUE, RED], clusterSubnets: ['10.240.0.0/16', '10.242.0.0/16', '10.243.0.0/16'], ports: [], ...over }
}

function port (over: Partial<PublishedPort> = {}): PublishedPort {
  return { network: 'blue', endpointId: 'e1', protocol: 'tcp', hostIp: '', hostPort: 8080, containerIp: '10.240.1.10', containerPort: 80, ...over }
}

const text = (value: unknown): string => JSON.stringify(value)

test('egress networks are masqueraded with fully random ports, never towards a meshplane subnet; internal ones are not, and are dropped beyond their bridge', t => {
  const fw = computeFirewall(input())
  const post = fw.chains.find(c => c.name === 'postrouting')!
  const masquerades = post.rules.filter(r => text(r.expr).includes('fully-random'))
  t.is(masquerades.length, 1, 'one masquerade rule: blue only')
  t.regex(text(masquerades[0]!.expr), /"mpbr1"/)
  t.regex(text(masquerades[0]!.expr), /10\.243\.0\.0/, 'a subnet of the cluster not programmed here is still never NATed to')
  const from = fw.chains.find(c => c.name === 'from-overlay')!
  t.true(from.rules.some(r => text(r.expr) === text([{ match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'mpbr2' } }, { drop: null }])), 'red drops what leaves its bridge')
  t.deepEqual(fw.warnings, [])
})

test('no programmed network: no table at all, and an existing one is deleted', t => {
  const fw = computeFirewall(input({ networks: [] }))
  t.deepEqual(fw.chains, [])
  t.deepEqual(diffFirewall(fw, { table: [], compat: undefined }), [{ delete: { table: { family: 'inet', name: 'meshplane' } } }])
  t.deepEqual(diffFirewall(fw, { table: undefined, compat: undefined }), [])
})

test('published ports: a DNAT rule each; a clash, an internal or unprogrammed network and a bad port are refused with a reason', t => {
  const fw = computeFirewall(input({
    ports: [
      port(),
      port({ endpointId: 'e2', hostIp: '10.77.0.11', containerIp: '10.240.1.11' }), // same port, the wildcard holds it
      port({ endpointId: 'e3', protocol: 'udp' }), // another protocol: fine
      port({ endpointId: 'e4', network: 'red', hostPort: 9000 }),
      port({ endpointId: 'e5', network: 'green', hostPort: 9001 }),
      port({ endpointId: 'e6', hostPort: 70000 })
    ]
  }))
  const byId = Object.fromEntries(fw.ports.map(p => [p.endpointId, p]))
  t.true(byId.e1!.programmed)
  t.true(byId.e3!.programmed)
  t.regex(byId.e2!.reason!, /already published by blue\/e1/)
  t.regex(byId.e4!.reason!, /internal/)
  t.regex(byId.e5!.reason!, /not programmed on this host/)
  t.regex(byId.e6!.reason!, /1\.\.65535/)
  t.is(fw.warnings.length, 4)
  const published = fw.chains.find(c => c.name === 'published')!
  t.is(published.rules.length, 2)
  t.regex(text(published.rules[0]!.expr), /"dnat":\{"family":"ip","addr":"10\.240\.1\.10","port":80\}/)
  // the jump into `published` exists only when something is published
  t.is(fw.chains.find(c => c.name === 'prerouting')!.rules.length, 1)
  t.is(computeFirewall(input()).chains.find(c => c.name === 'prerouting')!.rules.length, 0)
})

test('the same input gives the same rules in any order (comments are content hashes)', t => {
  const a = computeFirewall(input({ ports: [port(), port({ endpointId: 'e3', protocol: 'udp' })] }))
  const b = computeFirewall(input({ networks: [RED, BLUE], clusterSubnets: ['10.243.0.0/16', '10.242.0.0/16', '10.240.0.0/16'], ports: [port({ endpointId: 'e3', protocol: 'udp' }), port()] }))
  t.deepEqual(a, b)
  const comments = a.chains.flatMap(c => c.rules.map(r => r.comment))
  t.is(new Set(comments).size, comments.length, 'every rule has its own comment')
})

test('diff: a kernel that holds the rules needs nothing; a flushed or changed table is replaced whole in one transaction', t => {
  const fw = computeFirewall(input())
  const held: ObservedFirewall = {
    table: fw.chains.map(c => ({ name: c.name, ...(c.base === undefined ? {} : { type: c.base.type, hook: c.base.hook, prio: c.base.prio, policy: c.base.policy }), comments: c.rules.map(r => r.comment) })),
    compat: undefined
  }
  t.deepEqual(diffFirewall(fw, held), [])

  const flushed: ObservedFirewall = { table: held.table!.map(c => ({ ...c, comments: [] })), compat: undefined }
  const replace = diffFirewall(fw, flushed)
  t.deepEqual(replace.slice(0, 3), [{ add: { table: { family: 'inet', name: 'meshplane' } } }, { delete: { table: { family: 'inet', name: 'meshplane' } } }, { add: { table: { family: 'inet', name: 'meshplane' } } }])
  t.is(replace.filter(c => 'add' in c && 'rule' in (c.add as object)).length, fw.chains.reduce((n, c) => n + c.rules.length, 0))
  t.deepEqual(diffFirewall(fw, { table: undefined, compat: undefined }), replace, 'absent or flushed: the same transaction')

  const otherPolicy: ObservedFirewall = { table: held.table!.map(c => c.name === 'forward' ? { ...c, policy: 'drop' } : c), compat: undefined }
  t.true(diffFirewall(fw, otherPolicy).length > 0, 'a base chain changed by hand is put back')
})

test('diff: the compat rules in ip filter FORWARD are added where that chain exists, kept when present, removed with the last network, and nothing else in it is touched', t => {
  const fw = computeFirewall(input())
  const table = fw.chains.map(c => ({ name: c.name, ...(c.base === undefined ? {} : { type: c.base.type, hook: c.base.hook, prio: c.base.prio, policy: c.base.policy }), comments: c.rules.map(r => r.comment) }))
  const dockers = [{ handle: 3, comment: '' }, { handle: 4, comment: 'DOCKER-USER' }]
  const missing = diffFirewall(fw, { table, compat: { rules: dockers } })
  t.deepEqual(missing.map(c => Object.keys(c)[0]), ['insert', 'insert'])
  t.deepEqual(missing.map(c => (c.insert as { rule: { comment: string } }).rule.comment).sort(), COMPAT_RULES.map(r => r.comment).sort())

  const present = { rules: [...dockers, { handle: 7, comment: 'meshplane-in' }, { handle: 8, comment: 'meshplane-out' }] }
  t.deepEqual(diffFirewall(fw, { table, compat: present }), [])

  const none = computeFirewall(input({ networks: [] }))
  t.deepEqual(diffFirewall(none, { table: undefined, compat: present }), [
    { delete: { rule: { family: 'ip', table: 'filter', chain: 'FORWARD', handle: 7 } } },
    { delete: { rule: { family: 'ip', table: 'filter', chain: 'FORWARD', handle: 8 } } }
  ])
})

test('the resolver\'s service address is reachable on port 53 from every bridge when given', t => {
  const without = computeFirewall(input())
  const withDns = computeFirewall(input({ serviceAddress: '169.254.53.53' }))
  const rules = (fw: typeof without): string => text(fw.chains.find(c => c.name === 'overlay-input')!.rules)
  t.notRegex(rules(without), /169\.254\.53\.53/)
  t.is((rules(withDns).match(/169\.254\.53\.53/g) ?? []).length, 2, 'UDP and TCP')
})
