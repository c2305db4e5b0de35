/*
 * types/geohash.h - the geohash math of the GEO commands, giving Redis's
 * exact numbers: a point is stored in a sorted set with a 52-bit score
 * (26 bits of latitude and 26 of longitude, interleaved: latitude in the
 * even bits), over the Web Mercator limits (latitude +-85.05112878,
 * longitude +-180); distances use the haversine formula with Redis's earth
 * radius (6372797.560856 m).
 *
 * Searches (GEOSEARCH, GEORADIUS) cover the shape with the geohash box of
 * the center at a precision chosen from the radius and its 8 neighbours,
 * dropping those outside the shape's bounding box, and filter the points of
 * each box by exact distance, as Redis does, so the same members come back.
 *
 * Thread context: pure functions; [any].
 */
#ifndef STASH_TYPES_GEOHASH_H
#define STASH_TYPES_GEOHASH_H

#include "base/common.h"

#define GEO_STEP_MAX 26
#define GEO_LAT_MIN -85.05112878
#define GEO_LAT_MAX 85.05112878
#define GEO_LONG_MIN -180
#define GEO_LONG_MAX 180

struct geo_bits {
    uint64_t bits;
    uint8_t step;
};

struct geo_range {
    double min, max;
};

struct geo_area {
    struct geo_bits hash;
    struct geo_range longitude, latitude;
};

/* The 8 neighbours in Redis's order of search after the center box. */
enum { GEO_N, GEO_S, GEO_E, GEO_W, GEO_NE, GEO_NW, GEO_SE, GEO_SW, GEO_NEIGHBORS };

enum geo_shape_type { GEO_CIRCLE = 1, GEO_RECTANGLE = 2 };

struct geo_shape {
    enum geo_shape_type type;
    double xy[2];         /* center: longitude, latitude */
    double conversion;    /* the unit in meters */
    double radius;        /* circle, in units */
    double width, height; /* rectangle, in units */
    double bounds[4];     /* min lon, min lat, max lon, max lat */
};

/* The boxes to search for a shape. A zero hash (bits 0, step 0) is a
 * neighbour left out. */
struct geo_search {
    struct geo_bits hash;
    struct geo_bits neighbors[GEO_NEIGHBORS];
    struct geo_area area;
};

static inline bool geo_bits_zero(struct geo_bits h) {
    return h.bits == 0 && h.step == 0;
}

bool geo_encode(const struct geo_range *lon_range, const struct geo_range *lat_range, double lon,
                double lat, uint8_t step, struct geo_bits *hash);
bool geo_encode_wgs84(double lon, double lat, uint8_t step, struct geo_bits *hash);
bool geo_decode(struct geo_range lon_range, struct geo_range lat_range, struct geo_bits hash,
                struct geo_area *area);
/* The center of the 52-bit score's box (clamped to the limits). */
bool geo_decode_score(double score, double xy[2]);
/* The hash left-aligned to 52 bits (the sorted set score). */
uint64_t geo_align52(struct geo_bits hash);

double geo_distance(double lon1, double lat1, double lon2, double lat2);

/* Is the point within the shape? *dist gets its distance to the center
 * (meters) when it is. */
bool geo_in_shape(const struct geo_shape *s, double lon, double lat, double *dist);

/* The boxes to search for the shape (fills s->bounds). */
void geo_search_areas(struct geo_shape *s, struct geo_search *out);

/* The 11-character standard geohash (latitude over +-90) of a point. */
void geo_hash_string(double lon, double lat, char out[12]);

#endif
