// examples/express (npm run demo:express), driven as a person would: two devices, a password change, the other device is out.
import { expect } from 'chai';
import supertest from 'supertest';
import { createExampleApp } from '../../examples/express/app.js';
import { newRedis } from '../support/app.js';
import { closeClients } from './support.js';

describe('examples/express: sign out everywhere after a password change', () => {
  afterEach(closeClients);

  it('the phone is signed out with the reason, the laptop that changed the password stays signed in, the old password stops working', async () => {
    const { app } = await createExampleApp({ redis: newRedis(), secret: 'example secret' });
    const laptop = supertest.agent(app);
    const phone = supertest.agent(app);
    await laptop.post('/login').type('form').send({ user: 'alice', password: 'wrong' }).expect(401);
    for (const device of [laptop, phone]) {
      await device.post('/login').type('form').send({ user: 'alice', password: 'correct horse' }).expect(200);
    }
    expect((await phone.get('/').expect(200)).body).to.include({ userId: 'alice', devices: 2 });
    await phone.post('/password').type('form').send({ current: 'nope', password: 'x' }).expect(403);
    await laptop
      .post('/password')
      .type('form')
      .send({ current: 'correct horse', password: 'battery staple' })
      .expect(200);
    expect((await phone.get('/').expect(200)).body).to.include({ userId: null, revoked: 'password-changed' });
    expect((await laptop.get('/').expect(200)).body).to.include({ userId: 'alice', devices: 1 });
    await phone.post('/login').type('form').send({ user: 'alice', password: 'correct horse' }).expect(401);
    await phone.post('/login').type('form').send({ user: 'alice', password: 'battery staple' }).expect(200);
    await laptop.post('/logout').expect(200);
    expect((await laptop.get('/').expect(200)).body.userId).to.equal(null);
  });
});
