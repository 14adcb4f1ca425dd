import { Injectable } from '@nestjs/common';
import type { Cache } from 'redkit';
import { RedkitCacheService } from 'redkit/nestjs';

/** One page of a user's gallery. */
export interface GalleryPage {
  userId: string;
  page: number;
  images: string[];
  /** When the page was built (ms since epoch): equal values mean a cached answer. */
  builtAt: number;
}

/**
 * Seed 003's ImageGalleryCacheService: gallery pages cached for 60 s with 30 s of grace (a stale
 * page is served at once while it refreshes), one build across instances for a hot page.
 */
@Injectable()
export class GalleryCacheService {
  readonly #pages: Cache<GalleryPage>;
  /** Pages built (cache misses that ran the loader). */
  builds = 0;

  constructor(caches: RedkitCacheService) {
    this.#pages = caches.namespace<GalleryPage>('gallery', { ttl: '60s', grace: '30s', stampedeLock: true });
  }

  /** Page `page` of `userId`'s gallery, from the cache or built. */
  page(userId: string, page: number): Promise<GalleryPage> {
    return this.#pages.getOrSet(`${userId}:${page}`, () => this.#build(userId, page));
  }

  /** Drops the first pages of `userId` after an upload. */
  async invalidate(userId: string, pages = 3): Promise<void> {
    await Promise.all(Array.from({ length: pages }, (_, i) => this.#pages.delete(`${userId}:${i + 1}`)));
  }

  // Stands in for the image database.
  async #build(userId: string, page: number): Promise<GalleryPage> {
    this.builds += 1;
    const images = Array.from({ length: 3 }, (_, i) => `https://img.example/${userId}/${(page - 1) * 3 + i + 1}.webp`);
    return { userId, page, images, builtAt: Date.now() };
  }
}
