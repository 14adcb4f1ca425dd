import { Controller, Delete, Get, Headers, HttpCode, UnauthorizedException } from '@nestjs/common';
import { AuthCacheService, type SessionUser } from './auth-cache.service.js';

function bearer(header: string | undefined): string {
  const token = header?.startsWith('Bearer ') ? header.slice(7) : '';
  if (!token) throw new UnauthorizedException('send "Authorization: Bearer <token>"');
  return token;
}

/** `GET /api/auth/me` and `DELETE /api/auth/session`. */
@Controller('api/auth')
export class AuthController {
  constructor(private readonly auth: AuthCacheService) {}

  @Get('me')
  async me(@Headers('authorization') authorization?: string): Promise<SessionUser> {
    const user = await this.auth.user(bearer(authorization));
    if (!user) throw new UnauthorizedException('unknown session');
    return user;
  }

  @Delete('session')
  @HttpCode(204)
  async logout(@Headers('authorization') authorization?: string): Promise<void> {
    await this.auth.logout(bearer(authorization));
  }
}
