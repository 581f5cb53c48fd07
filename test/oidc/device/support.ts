import { expect } from 'chai';
import type supertest from 'supertest';
import type { TestApp } from '../../support/app.js';
import { csrfOf } from '../support.js';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** XXXX-XXXX from the base-20 alphabet (no vowels, no easily confused letters). */
export const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

/** The hidden `xsrf` field of the verification page. */
export function xsrfOf(html: string): string {
  const match = /name="xsrf" value="([^"]+)"/.exec(html);
  expect(match, 'the page has the engine\'s xsrf field').to.not.equal(null);
  return match![1]!;
}

/** Opens the verification page and submits a code; the answer is the confirmation page (or the page again, with an error). */
export async function enterCode(agent: supertest.Agent, userCode: string): Promise<supertest.Response> {
  const page = await agent.get('/oauth/device');
  expect(page.status, page.text).to.equal(200);
  return agent.post('/oauth/device').type('form').send({ xsrf: xsrfOf(page.text), user_code: userCode });
}

/**
 * The person's side of the device flow through the real pages: the code, the confirmation, then
 * sign-in and consent, back to the success page. Returns the last page.
 */
export async function approveDevice(app: TestApp, agent: supertest.Agent, userCode: string, user: { email: string; password: string }, decision: 'confirm' | 'abort' = 'confirm'): Promise<supertest.Response> {
  const confirmation = await enterCode(agent, userCode);
  expect(confirmation.status, confirmation.text).to.equal(200);
  let response = await agent.post('/oauth/device').type('form').send({ xsrf: xsrfOf(confirmation.text), user_code: userCode, [decision]: 'yes' });
  for (let step = 0; step < 10; step += 1) {
    if (response.status === 302 || response.status === 303) {
      const location = new URL(response.headers.location as string, app.config.issuer);
      response = await agent.get(`${location.pathname}${location.search}`);
      continue;
    }
    if (response.status !== 200) return response;
    const path = new URL(response.request.url).pathname;
    if (response.text.includes('name="password"')) {
      response = await agent.post(`${path}/login`).type('form').send({ csrf: csrfOf(response.text), email: user.email, password: user.password });
    } else if (response.text.includes('name="decision"')) {
      response = await agent.post(`${path}/consent`).type('form').send({ csrf: csrfOf(response.text), decision: 'allow' });
    } else {
      return response;
    }
  }
  throw new Error('too many steps');
}
