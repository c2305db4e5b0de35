/* Unit tests of base/hash: CRC16 (Redis Cluster's key slot function) and the
 * keyed hash. */
#include "../test.h"

#include "base/hash.h"

/* Reference: one bit at a time, straight from the polynomial. */
static uint16_t crc16_bitwise(const uint8_t *s, size_t n) {
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(s[i] << 8);
        for (int b = 0; b < 8; b++) crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

TEST(crc16_known_values) {
    TEST_EXPECT_INT(crc16("123456789", 9), 0x31c3); /* CRC16/XMODEM check value */
    TEST_EXPECT_INT(crc16("", 0), 0);
    TEST_EXPECT_INT(crc16("foo", 3) & 16383, 12182); /* Redis: CLUSTER KEYSLOT foo */
}

TEST(crc16_matches_bitwise_for_every_length) {
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (uint8_t)(i * 131 + 7);
    for (size_t n = 0; n <= sizeof(buf); n++) TEST_EXPECT_INT(crc16(buf, n), crc16_bitwise(buf, n));
}

TEST(keyed_hash_depends_on_key) {
    uint8_t k1[16] = {1}, k2[16] = {2};
    hash_set_key(k1);
    uint64_t a = hash_keyed("hello", 5);
    TEST_EXPECT(a == hash_keyed("hello", 5));
    hash_set_key(k2);
    TEST_EXPECT(a != hash_keyed("hello", 5));
    TEST_EXPECT(hash_keyed_nocase("HeLLo", 5) == hash_keyed_nocase("hello", 5));
}

int main(void) {
    hash_setup();
    return test_run_all();
}
