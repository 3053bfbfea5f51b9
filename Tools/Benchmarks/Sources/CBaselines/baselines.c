// The baselines MeshLedger is measured against: raw liblmdb (the physical limit on this machine)
// and SQLite in WAL mode (what a user would pick instead for an embedded store). Minimal C,
// same records, same batch sizes, durable commits.
#include "baselines.h"
#include <lmdb.h>
#include <malloc.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void be64(uint64_t v, unsigned char out[8]) {
    for (int i = 7; i >= 0; i--) { out[i] = (unsigned char)(v & 0xff); v >>= 8; }
}

double raw_lmdb_append(const char *path, const uint8_t *data, const size_t *lengths, size_t count, size_t batch) {
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    mkdir(path, 0755);
    if (mdb_env_create(&env)) return -1;
    mdb_env_set_mapsize(env, (size_t)64 << 30);
    mdb_env_set_maxdbs(env, 4);
    if (mdb_env_open(env, path, MDB_NOTLS, 0644)) return -2;
    if (mdb_txn_begin(env, NULL, 0, &txn)) return -3;
    if (mdb_dbi_open(txn, "events", MDB_CREATE, &dbi)) return -4;
    mdb_txn_commit(txn);
    double start = seconds();
    size_t offset = 0;
    for (size_t i = 0; i < count;) {
        if (mdb_txn_begin(env, NULL, 0, &txn)) return -5;
        for (size_t j = 0; j < batch && i < count; j++, i++) {
            unsigned char key[8];
            be64(i + 1, key);
            MDB_val k = {8, key};
            MDB_val v = {lengths[i], (void *)(data + offset)};
            if (mdb_put(txn, dbi, &k, &v, MDB_APPEND)) return -6;
            offset += lengths[i];
        }
        if (mdb_txn_commit(txn)) return -7;
    }
    double elapsed = seconds() - start;
    mdb_env_close(env);
    return elapsed;
}

double raw_lmdb_scan(const char *path, size_t *records, size_t *bytes) {
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    MDB_cursor *cursor;
    if (mdb_env_create(&env)) return -1;
    mdb_env_set_maxdbs(env, 8);
    if (mdb_env_open(env, path, MDB_NOTLS | MDB_RDONLY, 0644)) return -2;
    if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) return -3;
    if (mdb_dbi_open(txn, "events", 0, &dbi)) return -4;
    if (mdb_cursor_open(txn, dbi, &cursor)) return -5;
    double start = seconds();
    MDB_val k, v;
    size_t n = 0, total = 0;
    int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
    while (rc == 0) {
        n++;
        total += v.mv_size + ((const unsigned char *)v.mv_data)[v.mv_size / 2];
        rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
    }
    double elapsed = seconds() - start;
    mdb_cursor_close(cursor);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    *records = n;
    *bytes = total;
    return elapsed;
}

static const uint8_t *read_varint(const uint8_t *p, uint64_t *value) {
    int shift = 0;
    *value = 0;
    while (*p & 0x80) { *value |= (uint64_t)(*p++ & 0x7f) << shift; shift += 7; }
    *value |= (uint64_t)*p++ << shift;
    return p;
}

/// The recorded time and the object key (kind, namespace and name as the record encodes them) of
/// a MeshLedger record (format 1, EventCodec.swift).
static void record_key(const uint8_t *record, int64_t *time, const uint8_t **key, size_t *key_length) {
    uint64_t t = 0, n;
    for (int i = 9; i < 17; i++) t = t << 8 | record[i];
    *time = (int64_t)t;
    const uint8_t *p = read_varint(record + 19, &n);  /* generation */
    p = read_varint(p, &n); p += n;                    /* actor */
    p = read_varint(p, &n); if (n) p += n - 1;         /* origin cluster */
    *key = p;
    for (int i = 0; i < 3; i++) { p = read_varint(p, &n); p += n; }
    *key_length = (size_t)(p - *key);
}

double sqlite_wal_append(
    const char *path, const uint8_t *data, const size_t *lengths, size_t count, size_t batch, int indexed) {
    sqlite3 *db;
    sqlite3_stmt *insert, *upsert = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) return -1;
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL);
    if (indexed) {
        sqlite3_exec(db,
            "CREATE TABLE events(seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, object BLOB NOT NULL, record BLOB NOT NULL);"
            "CREATE INDEX history ON events(object, seq); CREATE INDEX bytime ON events(time, seq);"
            "CREATE TABLE objects(object BLOB PRIMARY KEY, last INTEGER NOT NULL) WITHOUT ROWID;",
            NULL, NULL, NULL);
        if (sqlite3_prepare_v2(db, "INSERT INTO events(seq, time, object, record) VALUES (?, ?, ?, ?)", -1, &insert, NULL)
            != SQLITE_OK) return -2;
        if (sqlite3_prepare_v2(db,
                "INSERT INTO objects(object, last) VALUES (?, ?) ON CONFLICT(object) DO UPDATE SET last = excluded.last",
                -1, &upsert, NULL) != SQLITE_OK) return -2;
    } else {
        sqlite3_exec(db, "CREATE TABLE events(seq INTEGER PRIMARY KEY, record BLOB NOT NULL)", NULL, NULL, NULL);
        if (sqlite3_prepare_v2(db, "INSERT INTO events(seq, record) VALUES (?, ?)", -1, &insert, NULL) != SQLITE_OK)
            return -2;
    }
    double start = seconds();
    size_t offset = 0;
    for (size_t i = 0; i < count;) {
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        for (size_t j = 0; j < batch && i < count; j++, i++) {
            const uint8_t *record = data + offset;
            sqlite3_bind_int64(insert, 1, (sqlite3_int64)(i + 1));
            if (indexed) {
                int64_t time;
                const uint8_t *key;
                size_t key_length;
                record_key(record, &time, &key, &key_length);
                sqlite3_bind_int64(insert, 2, time);
                sqlite3_bind_blob(insert, 3, key, (int)key_length, SQLITE_STATIC);
                sqlite3_bind_blob(insert, 4, record, (int)lengths[i], SQLITE_STATIC);
                sqlite3_bind_blob(upsert, 1, key, (int)key_length, SQLITE_STATIC);
                sqlite3_bind_int64(upsert, 2, (sqlite3_int64)(i + 1));
                if (sqlite3_step(upsert) != SQLITE_DONE) return -3;
                sqlite3_reset(upsert);
            } else {
                sqlite3_bind_blob(insert, 2, record, (int)lengths[i], SQLITE_STATIC);
            }
            if (sqlite3_step(insert) != SQLITE_DONE) return -3;
            sqlite3_reset(insert);
            offset += lengths[i];
        }
        if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) return -4;
    }
    double elapsed = seconds() - start;
    sqlite3_finalize(insert);
    if (upsert) sqlite3_finalize(upsert);
    sqlite3_close(db);
    return elapsed;
}

size_t heap_in_use(void) { return mallinfo2().uordblks; }
