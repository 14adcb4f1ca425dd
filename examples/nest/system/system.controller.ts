import { Controller, Get } from '@nestjs/common';
import { RedisInfoService } from './redis-info.service.js';

/** `GET /api/system/redis`: Redis version, or `configured: false` standalone. */
@Controller('api/system')
export class SystemController {
  constructor(private readonly info: RedisInfoService) {}

  @Get('redis')
  redis(): Promise<{ configured: boolean; version?: string; error?: string }> {
    return this.info.info();
  }
}
