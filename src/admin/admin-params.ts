import { Injectable, ParseUUIDPipe, PipeTransform } from '@nestjs/common';
import { TENANT_ID_PATTERN } from '@tollgate/ai';
import { GatewayHttpException } from '../http/gateway-http.exception';

export const TENANT_ID_RULE = "id must be 1 to 64 lowercase letters, digits, '_' or '-', starting with a letter or digit";

/** The `:id` of a tenant route, refused before any lookup when it cannot be a tenant id. */
@Injectable()
export class TenantIdPipe implements PipeTransform<string, string> {
  transform(id: string): string {
    if (!TENANT_ID_PATTERN.test(id)) throw GatewayHttpException.invalidRequest(`Invalid 'id': ${TENANT_ID_RULE}.`, 'id');
    return id;
  }
}

/** The `:keyId` of a key route: the UUID the key was issued with. */
@Injectable()
export class KeyIdPipe extends ParseUUIDPipe {
  constructor() {
    super({
      exceptionFactory: () => GatewayHttpException.invalidRequest("Invalid 'keyId': keyId must be the UUID returned when the key was issued.", 'keyId'),
    });
  }
}
