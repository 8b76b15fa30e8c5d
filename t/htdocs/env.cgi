#!/bin/sh
# prints the CGI environment the tests look at
printf 'Content-Type: text/plain\r\n\r\n'
for v in REMOTE_USER AUTH_TYPE CERTMAP_USER CERTMAP_MAPPING CERTMAP_SUBSTATUS \
         SSL_CLIENT_VERIFY; do
    eval "printf '%s=%s\\n' $v \"\${$v-}\""
done
