// check_tls_credentials: good files pass; each way a node's TLS files can be wrong is an error
// naming the setting, where CAF itself would abort or fail every handshake silently.
#include "runtime/tls_credentials.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/test_certs.hpp"

namespace nca {
namespace {

class TlsCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nca-tls-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(testing::make_test_certs(dir_ + "/one", {"a", "b"}), "");
    ASSERT_EQ(testing::make_test_certs(dir_ + "/two", {"z"}), "");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  TlsFiles files(const std::string& ca_dir, const std::string& name) const {
    return {dir_ + "/" + ca_dir + "/" + name + ".pem",
            dir_ + "/" + ca_dir + "/" + name + "-key.pem", dir_ + "/one/ca.pem", ""};
  }
  static std::string error_of(const TlsFiles& f) {
    auto s = check_tls_credentials(f);
    return s ? std::string() : s.error().message;
  }

  std::string dir_;
};

TEST_F(TlsCredentialsTest, FilesFromTheClusterCaPass) {
  EXPECT_EQ(error_of(files("one", "a")), "");
  EXPECT_EQ(error_of(files("one", "b")), "");
}

TEST_F(TlsCredentialsTest, MissingSettingsAndFilesNameTheSetting) {
  auto f = files("one", "a");
  f.ca.clear();
  EXPECT_NE(error_of(f).find("tls.ca is not set"), std::string::npos) << error_of(f);
  f = files("one", "a");
  f.key = dir_ + "/nowhere.pem";
  EXPECT_NE(error_of(f).find("tls.key '" + f.key + "' cannot be read"), std::string::npos)
      << error_of(f);
  f = files("one", "a");
  f.cert = dir_ + "/nowhere.pem";
  EXPECT_NE(error_of(f).find("tls.cert '"), std::string::npos) << error_of(f);
}

TEST_F(TlsCredentialsTest, AFileThatIsNotPemIsRefused) {
  const std::string junk = dir_ + "/junk.pem";
  std::ofstream(junk) << "not a certificate\n";
  auto f = files("one", "a");
  f.cert = junk;
  EXPECT_NE(error_of(f).find("tls.cert '" + junk + "' is not a PEM certificate"), std::string::npos)
      << error_of(f);
  f = files("one", "a");
  f.ca = junk;
  EXPECT_NE(error_of(f).find("tls.ca '" + junk + "' holds no PEM certificate"), std::string::npos)
      << error_of(f);
  f = files("one", "a");
  f.key = junk;
  EXPECT_NE(error_of(f).find("tls.key '" + junk + "' cannot be loaded"), std::string::npos)
      << error_of(f);
}

TEST_F(TlsCredentialsTest, AnotherCertificatesKeyIsRefused) {
  auto f = files("one", "a");
  f.key = dir_ + "/one/b-key.pem";
  EXPECT_NE(error_of(f).find("is not the key of tls.cert"), std::string::npos) << error_of(f);
}

TEST_F(TlsCredentialsTest, ACertificateFromAnotherCaIsNotTrusted) {
  auto f = files("two", "z");  // z's own key, but tls.ca is the first cluster's CA
  const std::string e = error_of(f);
  EXPECT_NE(e.find("is not trusted by tls.ca"), std::string::npos) << e;
  f.ca = dir_ + "/two/ca.pem";
  EXPECT_EQ(error_of(f), "");
}

TEST_F(TlsCredentialsTest, AnEncryptedKeyNeedsItsPassphrase) {
  const std::string enc = dir_ + "/one/a-enc-key.pem";
  auto r = testing::run_command({"openssl", "ec", "-in", dir_ + "/one/a-key.pem", "-aes256",
                                 "-passout", "pass:letmein", "-out", enc});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto f = files("one", "a");
  f.key = enc;
  EXPECT_NE(error_of(f).find("set tls.passphrase"), std::string::npos) << error_of(f);
  f.passphrase = "wrong";
  EXPECT_NE(error_of(f).find("cannot be loaded"), std::string::npos) << error_of(f);
  f.passphrase = "letmein";
  EXPECT_EQ(error_of(f), "");
}

}  // namespace
}  // namespace nca
