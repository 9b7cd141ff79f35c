# httpd:2.4's Apache (built from source once, on trixie) on another Debian
# base, with the packages of the libraries it links: how the suite runs on
# sid (Python 3.14) without building httpd a second time.
#
#   docker build -f docker/stand-ins/httpd/rebase.Dockerfile \
#       --build-arg BASE=debian:sid-slim -t rwsgi-httpd:sid docker/stand-ins/httpd
ARG BASE=debian:sid-slim
FROM httpd:2.4 AS httpd
# The packages httpd and its modules link libraries from, as the image's
# own build keeps them.
RUN find /usr/local/apache2 -type f -executable -exec ldd '{}' ';' 2>/dev/null \
	| awk '$2 == "=>" && $3 !~ /^\/usr\/local\// { print $3 }' \
	| sed 's!.*/!*/!' | sort -u \
	| xargs -r dpkg-query --search 2>/dev/null \
	| cut -d: -f1 | sort -u > /tmp/runtime-packages

FROM ${BASE}
ENV HTTPD_PREFIX=/usr/local/apache2
ENV PATH=$HTTPD_PREFIX/bin:$PATH
WORKDIR $HTTPD_PREFIX
COPY --from=httpd /tmp/runtime-packages /tmp/runtime-packages
RUN set -eux; \
	apt-get install --update -y --no-install-recommends \
		ca-certificates libaprutil1-ldap libldap-common $(cat /tmp/runtime-packages); \
	apt-get dist-clean; \
	rm /tmp/runtime-packages
COPY --from=httpd /usr/local/apache2 /usr/local/apache2
COPY --from=httpd /usr/local/bin/httpd-foreground /usr/local/bin/
RUN set -eux; \
	for m in modules/*.so bin/httpd; do \
		if ldd "$m" | grep 'not found'; then echo "$m: a library is missing"; exit 1; fi; \
	done; \
	httpd -v
STOPSIGNAL SIGWINCH
EXPOSE 80
CMD ["httpd-foreground"]
