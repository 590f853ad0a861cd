import test from 'ava'
import { streamPair, pbStream } from '@libp2p/utils'
import { Probe } from '@meshplane/proto'
import { ProbeChannel, serveProbeStream } from '@meshplane/agent/mesh/probe-channel.js'
import { sleep } from '../utils/wait.js'

const probe = (seq: bigint): Omit<Probe, 'id'> => ({ incarnation: 1n, seq, suspect: false, relayTo: '', wantView: false })

test('probes on one stream: concurrent requests get their own answers, in any order; a late answer is dropped', async t => {
  const [client, server] = await streamPair()
  let served = 0
  // the answer echoes the request's seq; seq 1 is slow, so answers come back out of order;
  // seq 3 slower still, so the late answer below arrives while request 3 is pending
  void serveProbeStream(server, 'prober', async req => {
    served++
    await sleep(req.seq === 1n ? 150 : req.seq === 3n ? 300 : 10)
    return { ok: true, incarnation: 7n, seq: req.seq, unreachable: [] }
  })
  const channel = new ProbeChannel(client)

  const [slow, fast] = await Promise.all([
    channel.request(probe(1n), AbortSignal.timeout(2000)),
    channel.request(probe(2n), AbortSignal.timeout(2000))
  ])
  t.is(slow?.seq, 1n)
  t.is(fast?.seq, 2n)

  // no answer in time: undefined; the late answer then arrives and matches nothing
  t.is(await channel.request(probe(1n), AbortSignal.timeout(30)), undefined)
  const next = await channel.request(probe(3n), AbortSignal.timeout(2000))
  t.is(next?.seq, 3n, 'the late answer was not taken for the next request')
  t.is(served, 4)
  t.false(channel.closed)
  channel.close()
})

test('garbage on a probe stream closes it on both ends; requests then fail at once instead of waiting', async t => {
  // a prober that sends garbage: the server ends the stream and stays up
  const [rogue, server] = await streamPair()
  const done = serveProbeStream(server, 'rogue', async () => ({ ok: true, incarnation: 1n, seq: 0n, unreachable: [] }))
  rogue.send(new Uint8Array([0x05, 0xff, 0xff, 0xff, 0xff, 0xff]))
  await done
  t.not(server.status, 'open')

  // a server that answers garbage: the channel closes and pending requests resolve undefined
  const [client, bad] = await streamPair()
  const channel = new ProbeChannel(client)
  const pending = channel.request(probe(1n), AbortSignal.timeout(5000))
  const pb = pbStream(bad)
  await pb.read(Probe)
  bad.send(new Uint8Array([0x03, 0xff, 0xff, 0xff]))
  const started = Date.now()
  t.is(await pending, undefined)
  t.true(Date.now() - started < 1000, 'not left waiting for its timeout')
  t.true(channel.closed)
  t.is(await channel.request(probe(2n), AbortSignal.timeout(5000)), undefined)
})
