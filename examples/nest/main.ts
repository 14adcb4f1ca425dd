// Entry point of the example: `node dist/examples/nest/main.js` (REDIS_URL=redis://… for Redis;
// nothing for standalone mode). SIGTERM/SIGINT close the app, which closes redkit's connections.
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';

const app = await NestFactory.create(AppModule);
app.enableShutdownHooks();
await app.listen(Number(process.env.PORT ?? 3000));
console.log(`example listening on ${await app.getUrl()}`);
