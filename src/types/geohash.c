/*
 * types/geohash.c - see geohash.h. The arithmetic (order of operations,
 * truncations, clamps) follows Redis's so that scores, coordinates and
 * distances are bit-for-bit the same.
 */
#include "types/geohash.h"

#include <math.h>

#define EARTH_RADIUS 6372797.560856
#define MERCATOR_MAX 20037726.37
#define D_R (M_PI / 180.0)

static inline double deg_rad(double a) {
    return a * D_R;
}
static inline double rad_deg(double a) {
    return a / D_R;
}

/* Spread the 32 bits of v over the even bits of a 64-bit word. */
static uint64_t spread(uint32_t v) {
    uint64_t x = v;
    x = (x | (x << 16)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x << 8)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x << 2)) & 0x3333333333333333ULL;
    x = (x | (x << 1)) & 0x5555555555555555ULL;
    return x;
}

/* Gather the even bits of v into 32 bits. */
static uint32_t gather(uint64_t v) {
    uint64_t x = v & 0x5555555555555555ULL;
    x = (x | (x >> 1)) & 0x3333333333333333ULL;
    x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x >> 4)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x >> 8)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x >> 16)) & 0x00000000FFFFFFFFULL;
    return (uint32_t)x;
}

static const struct geo_range LON_RANGE = {GEO_LONG_MIN, GEO_LONG_MAX};
static const struct geo_range LAT_RANGE = {GEO_LAT_MIN, GEO_LAT_MAX};

bool geo_encode(const struct geo_range *lon_range, const struct geo_range *lat_range, double lon,
                double lat, uint8_t step, struct geo_bits *hash) {
    if (step > 32 || step == 0 || (lat_range->min == 0 && lat_range->max == 0) ||
        (lon_range->min == 0 && lon_range->max == 0))
        return false;
    if (lon > GEO_LONG_MAX || lon < GEO_LONG_MIN || lat > GEO_LAT_MAX || lat < GEO_LAT_MIN)
        return false;
    hash->bits = 0;
    hash->step = step;
    if (lat < lat_range->min || lat > lat_range->max || lon < lon_range->min ||
        lon > lon_range->max)
        return false;
    double lat_off = (lat - lat_range->min) / (lat_range->max - lat_range->min);
    double lon_off = (lon - lon_range->min) / (lon_range->max - lon_range->min);
    lat_off *= (double)(1ULL << step);
    lon_off *= (double)(1ULL << step);
    hash->bits = spread((uint32_t)lat_off) | (spread((uint32_t)lon_off) << 1);
    return true;
}

bool geo_encode_wgs84(double lon, double lat, uint8_t step, struct geo_bits *hash) {
    return geo_encode(&LON_RANGE, &LAT_RANGE, lon, lat, step, hash);
}

bool geo_decode(struct geo_range lon_range, struct geo_range lat_range, struct geo_bits hash,
                struct geo_area *area) {
    if (geo_bits_zero(hash) || (lat_range.min == 0 && lat_range.max == 0) ||
        (lon_range.min == 0 && lon_range.max == 0))
        return false;
    area->hash = hash;
    uint32_t ilat = gather(hash.bits), ilon = gather(hash.bits >> 1);
    double lat_scale = lat_range.max - lat_range.min, lon_scale = lon_range.max - lon_range.min;
    double div = (double)(1ULL << hash.step);
    area->latitude.min = lat_range.min + (ilat * 1.0 / div) * lat_scale;
    area->latitude.max = lat_range.min + ((ilat + 1) * 1.0 / div) * lat_scale;
    area->longitude.min = lon_range.min + (ilon * 1.0 / div) * lon_scale;
    area->longitude.max = lon_range.min + ((ilon + 1) * 1.0 / div) * lon_scale;
    return true;
}

bool geo_decode_score(double score, double xy[2]) {
    struct geo_bits hash = {(uint64_t)score, GEO_STEP_MAX};
    struct geo_area area;
    if (!geo_decode(LON_RANGE, LAT_RANGE, hash, &area)) return false;
    xy[0] = (area.longitude.min + area.longitude.max) / 2;
    if (xy[0] > GEO_LONG_MAX) xy[0] = GEO_LONG_MAX;
    if (xy[0] < GEO_LONG_MIN) xy[0] = GEO_LONG_MIN;
    xy[1] = (area.latitude.min + area.latitude.max) / 2;
    if (xy[1] > GEO_LAT_MAX) xy[1] = GEO_LAT_MAX;
    if (xy[1] < GEO_LAT_MIN) xy[1] = GEO_LAT_MIN;
    return true;
}

uint64_t geo_align52(struct geo_bits hash) {
    return hash.bits << (52 - hash.step * 2);
}

/* ---- neighbours ------------------------------------------------------------ */

/* Move the box one step east (+1) or west (-1): longitude bits are odd. */
static void move_x(struct geo_bits *h, int d) {
    if (d == 0) return;
    uint64_t x = h->bits & 0xaaaaaaaaaaaaaaaaULL, y = h->bits & 0x5555555555555555ULL;
    uint64_t zz = 0x5555555555555555ULL >> (64 - h->step * 2);
    if (d > 0) {
        x = x + (zz + 1);
    } else {
        x = x | zz;
        x = x - (zz + 1);
    }
    x &= 0xaaaaaaaaaaaaaaaaULL >> (64 - h->step * 2);
    h->bits = x | y;
}

/* Move the box one step north (+1) or south (-1): latitude bits are even. */
static void move_y(struct geo_bits *h, int d) {
    if (d == 0) return;
    uint64_t x = h->bits & 0xaaaaaaaaaaaaaaaaULL, y = h->bits & 0x5555555555555555ULL;
    uint64_t zz = 0xaaaaaaaaaaaaaaaaULL >> (64 - h->step * 2);
    if (d > 0) {
        y = y + (zz + 1);
    } else {
        y = y | zz;
        y = y - (zz + 1);
    }
    y &= 0x5555555555555555ULL >> (64 - h->step * 2);
    h->bits = x | y;
}

static void neighbors(const struct geo_bits *h, struct geo_bits *n) {
    static const int dx[GEO_NEIGHBORS] = {0, 0, 1, -1, 1, -1, 1, -1};
    static const int dy[GEO_NEIGHBORS] = {1, -1, 0, 0, 1, 1, -1, -1};
    for (int i = 0; i < GEO_NEIGHBORS; i++) {
        n[i] = *h;
        move_x(&n[i], dx[i]);
        move_y(&n[i], dy[i]);
    }
}

/* ---- distances ------------------------------------------------------------- */

static double lat_distance(double lat1, double lat2) {
    return EARTH_RADIUS * fabs(deg_rad(lat2) - deg_rad(lat1));
}

double geo_distance(double lon1, double lat1, double lon2, double lat2) {
    double lon1r = deg_rad(lon1), lon2r = deg_rad(lon2);
    double v = sin((lon2r - lon1r) / 2);
    if (v == 0.0) return lat_distance(lat1, lat2);
    double lat1r = deg_rad(lat1), lat2r = deg_rad(lat2);
    double u = sin((lat2r - lat1r) / 2);
    double a = u * u + cos(lat1r) * cos(lat2r) * v * v;
    return 2.0 * EARTH_RADIUS * asin(sqrt(a));
}

bool geo_in_shape(const struct geo_shape *s, double lon, double lat, double *dist) {
    if (s->type == GEO_CIRCLE) {
        *dist = geo_distance(s->xy[0], s->xy[1], lon, lat);
        return !(*dist > s->radius * s->conversion);
    }
    double w = s->width * s->conversion, h = s->height * s->conversion;
    if (lat_distance(lat, s->xy[1]) > h / 2) return false;
    if (geo_distance(lon, lat, s->xy[0], lat) > w / 2) return false;
    *dist = geo_distance(s->xy[0], s->xy[1], lon, lat);
    return true;
}

/* ---- search areas ------------------------------------------------------------ */

static uint8_t steps_by_radius(double range, double lat) {
    if (range == 0) return 26;
    int step = 1;
    while (range < MERCATOR_MAX) {
        range *= 2;
        step++;
    }
    step -= 2; /* so that the range is inside in most cases */
    if (lat > 66 || lat < -66) {
        step--;
        if (lat > 80 || lat < -80) step--;
    }
    if (step < 1) step = 1;
    if (step > 26) step = 26;
    return (uint8_t)step;
}

static void bounding_box(struct geo_shape *s) {
    double lon = s->xy[0], lat = s->xy[1];
    double height = s->conversion * (s->type == GEO_CIRCLE ? s->radius : s->height / 2);
    double width = s->conversion * (s->type == GEO_CIRCLE ? s->radius : s->width / 2);
    const double lat_delta = rad_deg(height / EARTH_RADIUS);
    const double lon_delta_top = rad_deg(width / EARTH_RADIUS / cos(deg_rad(lat + lat_delta)));
    const double lon_delta_bottom = rad_deg(width / EARTH_RADIUS / cos(deg_rad(lat - lat_delta)));
    /* The box is widest on the side nearer the equator. */
    bool south = lat < 0;
    s->bounds[0] = south ? lon - lon_delta_bottom : lon - lon_delta_top;
    s->bounds[2] = south ? lon + lon_delta_bottom : lon + lon_delta_top;
    s->bounds[1] = lat - lat_delta;
    s->bounds[3] = lat + lat_delta;
}

void geo_search_areas(struct geo_shape *s, struct geo_search *out) {
    bounding_box(s);
    double min_lon = s->bounds[0], min_lat = s->bounds[1], max_lon = s->bounds[2],
           max_lat = s->bounds[3];
    double lon = s->xy[0], lat = s->xy[1];
    double radius = s->type == GEO_CIRCLE
                        ? s->radius
                        : sqrt((s->width / 2) * (s->width / 2) + (s->height / 2) * (s->height / 2));
    radius *= s->conversion;
    int steps = steps_by_radius(radius, lat);
    struct geo_bits hash;
    struct geo_area area;
    geo_encode(&LON_RANGE, &LAT_RANGE, lon, lat, (uint8_t)steps, &hash);
    neighbors(&hash, out->neighbors);
    geo_decode(LON_RANGE, LAT_RANGE, hash, &area);
    /* One step coarser when the neighbours do not reach the bounding box. */
    struct geo_area n, so, e, w;
    geo_decode(LON_RANGE, LAT_RANGE, out->neighbors[GEO_N], &n);
    geo_decode(LON_RANGE, LAT_RANGE, out->neighbors[GEO_S], &so);
    geo_decode(LON_RANGE, LAT_RANGE, out->neighbors[GEO_E], &e);
    geo_decode(LON_RANGE, LAT_RANGE, out->neighbors[GEO_W], &w);
    bool decrease = n.latitude.max < max_lat || so.latitude.min > min_lat ||
                    e.longitude.max < max_lon || w.longitude.min > min_lon;
    if (steps > 1 && decrease) {
        steps--;
        geo_encode(&LON_RANGE, &LAT_RANGE, lon, lat, (uint8_t)steps, &hash);
        neighbors(&hash, out->neighbors);
        geo_decode(LON_RANGE, LAT_RANGE, hash, &area);
    }
    /* Leave out the neighbours beyond the bounding box. */
    static const struct geo_bits zero = {0, 0};
    if (steps >= 2) {
        if (area.latitude.min < min_lat)
            out->neighbors[GEO_S] = out->neighbors[GEO_SW] = out->neighbors[GEO_SE] = zero;
        if (area.latitude.max > max_lat)
            out->neighbors[GEO_N] = out->neighbors[GEO_NE] = out->neighbors[GEO_NW] = zero;
        if (area.longitude.min < min_lon)
            out->neighbors[GEO_W] = out->neighbors[GEO_SW] = out->neighbors[GEO_NW] = zero;
        if (area.longitude.max > max_lon)
            out->neighbors[GEO_E] = out->neighbors[GEO_SE] = out->neighbors[GEO_NE] = zero;
    }
    out->hash = hash;
    out->area = area;
}

void geo_hash_string(double lon, double lat, char out[12]) {
    static const char alphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
    struct geo_range lon_r = {-180, 180}, lat_r = {-90, 90};
    struct geo_bits hash = {0, 0};
    geo_encode(&lon_r, &lat_r, lon, lat, 26, &hash);
    for (int i = 0; i < 11; i++) {
        /* 52 bits make 10 characters and 2 bits: the 11th is always '0'. */
        int idx = i == 10 ? 0 : (int)((hash.bits >> (52 - (i + 1) * 5)) & 0x1f);
        out[i] = alphabet[idx];
    }
    out[11] = '\0';
}
