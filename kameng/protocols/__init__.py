"""The payment channels' wire protocols, both sides: signing, verifying, encrypting (Alipay RSA2, WeChat Pay APIv3).

Pure functions over bytes and keys, no Django and no database: the shop's channel adapters (payments.channels) and
the sandbox gateway that plays Alipay and WeChat both speak through here, so neither has to import the other.
"""
