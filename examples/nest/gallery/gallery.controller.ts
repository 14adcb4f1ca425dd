import { BadRequestException, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { Throttle } from '@nestjs/throttler';
import { GalleryCacheService, type GalleryPage } from './gallery-cache.service.js';

function userIdOf(value: string): string {
  if (!/^[a-z0-9-]{1,64}$/i.test(value)) throw new BadRequestException('userId: 1–64 letters, digits or "-"');
  return value;
}

/** `GET /api/gallery/:userId?page=n` (10 requests per minute per client) and `POST /api/gallery/:userId/uploaded`. */
@Controller('api/gallery')
export class GalleryController {
  constructor(private readonly gallery: GalleryCacheService) {}

  @Throttle({ default: { limit: 10, ttl: 60_000 } })
  @Get(':userId')
  page(@Param('userId') userId: string, @Query('page') page = '1'): Promise<GalleryPage> {
    const n = Number(page);
    if (!Number.isSafeInteger(n) || n < 1 || n > 1000) throw new BadRequestException('page: a whole number from 1 to 1000');
    return this.gallery.page(userIdOf(userId), n);
  }

  @Post(':userId/uploaded')
  @HttpCode(204)
  async uploaded(@Param('userId') userId: string): Promise<void> {
    await this.gallery.invalidate(userIdOf(userId));
  }
}
