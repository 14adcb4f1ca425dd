// The session store from `redkit/nestjs`: RedkitSessionService in a real NestJS (express) app.
import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Controller, Get, Module, Post, Session } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import session from 'express-session';
import { RedkitModule, RedkitSessionService } from '../../src/nestjs/index.js';
import { kitFor } from '../helpers/kit.js';
import { startRedis, stopRedis } from '../helpers/redis-server.js';
import { browser } from './helpers.js';
import { keysEverywhere } from '../helpers/keys.js';

@Controller()
class MeController {
  @Post('login')
  login(@Session() s: Record<string, unknown>) {
    s.user = 'nest-user';
    return { ok: true };
  }

  @Get('me')
  me(@Session() s: Record<string, unknown>) {
    return { user: s.user ?? null };
  }
}

test('RedkitSessionService.store backs express-session in a NestJS app; sessions land under the kit prefix', async (t) => {
  const redis = await startRedis();
  const kit = await kitFor(redis);
  @Module({ imports: [RedkitModule.forRoot({ kit })], controllers: [MeController] })
  class AppModule {}
  const app = await NestFactory.create(AppModule, { logger: false });
  t.after(async () => {
    await app.close();
    await kit.close();
    await stopRedis(redis);
  });
  const service = app.get(RedkitSessionService);
  assert.equal(service.store, service.store, 'one store per app');
  app.use(session({ store: service.store.express(session), secret: 'nest-secret', resave: false, saveUninitialized: false }));
  await app.listen(0, '127.0.0.1');
  const user = browser(`http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`);
  await user.post('/login');
  assert.deepEqual((await user.get('/me')).body, { user: 'nest-user' });
  assert.equal((await keysEverywhere(kit.redis!, `${kit.keys.prefix}:session:*`)).length, 1);
});
