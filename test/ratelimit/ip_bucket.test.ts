import { expect } from 'chai';
import { ipBucket } from '../../src/ratelimit/subjects.js';

describe('ratelimit: the bucket an address counts in (ipBucket)', () => {
  it('counts IPv4-mapped IPv6 as the IPv4 address and IPv6 per /64, the same on every call', () => {
    const cases: Array<[string, string]> = [
      ['203.0.113.7', '203.0.113.7'],
      ['::ffff:203.0.113.7', '203.0.113.7'],
      ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
      ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
      [' 198.51.100.1 ', '198.51.100.1'],
    ];
    // Twice over: the second pass answers from the cache of recent addresses.
    for (let pass = 0; pass < 2; pass += 1) {
      for (const [address, bucket] of cases) expect(ipBucket(address), `${address}, pass ${pass + 1}`).to.equal(bucket);
    }
  });

  it('counts what is not an address verbatim, at most 64 characters, however long and however often', () => {
    expect(ipBucket('unix-socket')).to.equal('unix-socket');
    expect(ipBucket('')).to.equal('unknown');
    const junk = `not-an-address-${'x'.repeat(500)}`;
    expect(ipBucket(junk)).to.equal(junk.slice(0, 64));
    expect(ipBucket(junk)).to.equal(junk.slice(0, 64));
    // Two long strings that share their first 64 characters share a bucket (the bound on the key).
    expect(ipBucket(`${junk}y`)).to.equal(ipBucket(`${junk}z`));
  });
});
