/*
 * store/migrations.h - the SQL migrations embedded at build time from
 * core/store/migrations/NNNN_name.sql (see embed_sql.cmake), in version
 * order.  Internal to core_store.
 */
#ifndef CORE_STORE_MIGRATIONS_H
#define CORE_STORE_MIGRATIONS_H

struct store_migration {
    unsigned version;
    const char *name;
    const char *sql;
};

extern const struct store_migration store_migrations[];
extern const unsigned store_migration_count;

#endif /* CORE_STORE_MIGRATIONS_H */
